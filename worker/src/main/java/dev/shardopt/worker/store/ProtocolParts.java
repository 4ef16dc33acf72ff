package dev.shardopt.worker.store;

/**
 * What both push protocols work with: the model's shards, its exactly-once ledger and admission
 * checks, the completed-steps waiters, its lifecycle and gradient pool; and the exactly-once check
 * they share.
 */
record ProtocolParts(
    String model, ModelShards shards, PushLedger ledger, PushAdmission admission, VersionWaiters completed,
    ModelLifecycle lifecycle, GradientPool pool) {

  /** A push arrives: the model must still be usable, and it is counted. */
  void receive() {
    lifecycle.check();
    ledger.countReceived();
  }

  /**
   * The ack of a retry (counted as a duplicate), or null for a push not received before.
   *
   * @throws dev.shardopt.rpc.ApiException ALREADY_EXISTS when received before with other data
   */
  PushAck duplicateAck(GradientPush p) {
    if (ledger.seen(p.trainer(), p.step(), p.checksum()) != PushLedger.Seen.DUPLICATE) {
      return null;
    }
    ledger.countDuplicate();
    return new PushAck(p.step(), true, shards.version());
  }
}
