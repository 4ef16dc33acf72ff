#!/usr/bin/python3
"""Softmax regression on the digits data, trained on a Shardopt cluster by 2 trainer processes.

  /usr/bin/python3 examples/python/softmax_trainer.py --coordinator 127.0.0.1:7070 \
      --model digits-py --out /tmp/params-py.json

The driver (this process) creates the model (SYNC, 2 trainers, W [64,10] and b [10] zeros,
pipeline "adam(0.05)" as DSL text), starts two trainer processes (this script with --rank 0 and
--rank 1), each of which pulls the parameters of every step and pushes its gradient directly to
the workers of the shard map. Once both are done it pulls the final parameters (min_step = steps),
prints the test accuracy and writes the parameters to --out as JSON. The recipe is in
digits_recipe.py.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import digits_recipe as recipe
import shardopt_client as sc


def train(args):
    x_train, y_train, _, _ = recipe.load_digits()
    with sc.Cluster(args.coordinator) as cluster:
        model = cluster.model(args.model_name)
        try:
            for step in range(args.steps):
                version, params = model.pull(step)  # SYNC: waits until `step` steps are complete
                if version != step:
                    raise sc.ShardoptError("pulled version %d for step %d" % (version, step))
                rows = recipe.trainer_rows(step, args.rank, len(x_train))
                g = recipe.gradient(x_train[rows], y_train[rows], params["W"], params["b"])
                model.push(args.rank, step, g)
        finally:
            model.close()
    return 0


def drive(args):
    started = time.monotonic()
    x_train, _, x_test, y_test = recipe.load_digits()
    with sc.Cluster(args.coordinator) as cluster:
        created = cluster.create_model(args.model, recipe.PIPELINE_TEXT, recipe.TENSORS, trainers=recipe.TRAINERS)
        shards = len(cluster.coordinator.GetShardMap(sc.service_pb2.GetShardMapRequest(name=created.name),
                                                      timeout=sc.RPC_TIMEOUT_S).shards)
        print("created %s (%d trainers) in %d shard(s); training %d steps on %d rows" % (
            created.name, created.trainers, shards, args.steps, len(x_train)), flush=True)
        children = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "--coordinator", args.coordinator,
                                      "--model-name", created.name, "--rank", str(r), "--steps", str(args.steps)])
                    for r in range(recipe.TRAINERS)]
        # Wait for both, bounded; when one fails, stop the other (it would wait for the failed one's pushes).
        deadline = time.monotonic() + args.timeout
        timed_out = False
        while any(c.poll() is None for c in children) and not any(c.returncode for c in children):
            if time.monotonic() > deadline:
                timed_out = True
                break
            time.sleep(0.05)
        failed = ["trainer %d: exit %d" % (r, c.returncode) for r, c in enumerate(children) if c.returncode]
        if timed_out:
            failed.append("the trainers did not finish within %d s" % args.timeout)
        for c in children:
            if c.poll() is None:
                c.kill()
                c.wait(timeout=10)
        if failed:
            print("softmax_trainer: %s" % "; ".join(failed), file=sys.stderr)
            return 1
        model = cluster.model(created.name)
        try:
            step, params = model.pull(args.steps)
        finally:
            model.close()
        acc = recipe.accuracy(x_test, y_test, params["W"], params["b"])
        print("python: %d steps in %.1f s; test accuracy %.4f" % (step, time.monotonic() - started, acc), flush=True)
        if args.out:
            with open(args.out, "w") as f:
                json.dump({"language": "python", "model": created.name, "step": step, "accuracy": acc,
                           "tensors": {n: [float(v) for v in params[n]] for n, _ in recipe.TENSORS}}, f)
        if not args.keep:
            cluster.coordinator.DeleteModel(sc.service_pb2.DeleteModelRequest(name=created.name),
                                            timeout=sc.RPC_TIMEOUT_S)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--coordinator", required=True, help="host:port of the coordinator")
    p.add_argument("--model", default="digits-py", help="model id to create (driver)")
    p.add_argument("--steps", type=int, default=recipe.STEPS)
    p.add_argument("--out", help="write the final parameters here (JSON)")
    p.add_argument("--timeout", type=float, default=300, help="seconds the trainers may take in all")
    p.add_argument("--keep", action="store_true", help="do not delete the model at the end")
    p.add_argument("--rank", type=int, help=argparse.SUPPRESS)  # a trainer process
    p.add_argument("--model-name", help=argparse.SUPPRESS)
    args = p.parse_args()
    try:
        return train(args) if args.rank is not None else drive(args)
    except (sc.ShardoptError, sc.grpc.RpcError) as e:
        if isinstance(e, sc.grpc.RpcError):
            e = "%s %s" % (e.code().name, e.details())
        who = "trainer %d" % args.rank if args.rank is not None else "driver"
        print("softmax_trainer (%s): %s" % (who, e), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
