package dev.shardopt.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Seeded random plans: the same seed gives the same faults and the same outcomes at caller and
 * target; the faults follow the documented draw; what the target received agrees with the plan's list.
 */
class RandomFaultPlanTest {
  private static final int CALLS = 60;

  private static RandomFaultPlan plan(long seed) {
    return RandomFaultPlan.seeded(seed).with(Fault.dropRequest(), 0.15).with(Fault.dropResponse(), 0.15)
        .with(Fault.duplicate(), 0.1).with(Fault.delay(1), 0.1).build();
  }

  /** One run: 60 sequential unary calls through a fresh target and proxy under {@code plan}. */
  private record Run(List<InjectedFault> injected, List<String> outcomes, List<String> arrivals, FaultCounters counters) {
  }

  private static Run run(RandomFaultPlan plan) throws Exception {
    try (EchoTarget target = new EchoTarget(); GrpcFaultProxy proxy = GrpcFaultProxy.start(target.address())) {
      proxy.rules().plan(MethodMatch.prefix(EchoTarget.SERVICE + "/"), plan);
      ManagedChannel channel = NettyChannelBuilder.forTarget(proxy.address()).usePlaintext().build();
      try {
        List<String> outcomes = new ArrayList<>();
        for (int i = 0; i < CALLS; i++) {
          try {
            outcomes.add(ClientCalls.blockingUnaryCall(channel, EchoTarget.UNARY,
                CallOptions.DEFAULT.withDeadlineAfter(5, TimeUnit.SECONDS), "m" + i));
          } catch (StatusRuntimeException e) {
            outcomes.add(e.getStatus().getCode().toString());
          }
        }
        return new Run(plan.injected(), outcomes, target.arrivals(), proxy.counters());
      } finally {
        channel.shutdownNow();
        channel.awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void theSameSeedGivesTheSameFaultsAndOutcomesAndTheTargetAgreesWithTheList() throws Exception {
    Run a = run(plan(42));
    Run b = run(plan(42));
    assertThat(b.injected()).isEqualTo(a.injected());
    assertThat(b.outcomes()).isEqualTo(a.outcomes());
    assertThat(b.arrivals()).isEqualTo(a.arrivals());

    // the list is the documented draw: java.util.Random(42), one nextDouble() per call, cumulative bounds
    Random random = new Random(42);
    List<InjectedFault> expected = new ArrayList<>();
    Fault[] faults = {Fault.dropRequest(), Fault.dropResponse(), Fault.duplicate(), Fault.delay(1)};
    double[] bounds = {0.15, 0.30, 0.40, 0.50};
    for (int call = 1; call <= CALLS; call++) {
      double u = random.nextDouble();
      for (int k = 0; k < faults.length; k++) {
        if (u < bounds[k]) {
          expected.add(new InjectedFault(call, EchoTarget.UNARY.getFullMethodName(), faults[k]));
          break;
        }
      }
    }
    assertThat(a.injected()).isEqualTo(expected);
    assertThat(a.injected()).extracting(f -> f.fault().kind()).contains(FaultKind.DROP_REQUEST, FaultKind.DROP_RESPONSE,
        FaultKind.DUPLICATE, FaultKind.DELAY);

    // call by call: what the caller saw and how many copies the target received follow from the list
    List<String> outcomes = new ArrayList<>();
    List<String> arrivals = new ArrayList<>();
    for (int call = 1; call <= CALLS; call++) {
      int c = call;
      FaultKind kind = a.injected().stream().filter(f -> f.call() == c).map(f -> f.fault().kind()).findFirst().orElse(null);
      String m = "m" + (call - 1);
      outcomes.add(kind == FaultKind.DROP_REQUEST || kind == FaultKind.DROP_RESPONSE ? "UNAVAILABLE" : "echo:" + m);
      if (kind != FaultKind.DROP_REQUEST) {
        arrivals.add("Unary:" + m);
      }
      if (kind == FaultKind.DUPLICATE) {
        arrivals.add("Unary:" + m);
      }
    }
    assertThat(a.outcomes()).isEqualTo(outcomes);
    assertThat(a.arrivals()).isEqualTo(arrivals);
    for (FaultKind kind : List.of(FaultKind.DROP_REQUEST, FaultKind.DROP_RESPONSE, FaultKind.DUPLICATE, FaultKind.DELAY)) {
      assertThat(a.counters().count(kind)).as("%s", kind)
          .isEqualTo(a.injected().stream().filter(f -> f.fault().kind() == kind).count());
    }
  }

  @Test
  void anotherSeedGivesOtherFaults() {
    RandomFaultPlan p1 = plan(1);
    RandomFaultPlan p2 = plan(2);
    for (int i = 0; i < CALLS; i++) {
      p1.next("a/b");
      p2.next("a/b");
    }
    assertThat(p1.calls()).isEqualTo(CALLS);
    assertThat(p1.injected()).isNotEqualTo(p2.injected());
  }

  @Test
  void aPlanOfProbabilityOneInjectsIntoEveryCallAndZeroIntoNone() {
    RandomFaultPlan always = RandomFaultPlan.seeded(3).with(Fault.dropRequest(), 1.0).build();
    RandomFaultPlan never = RandomFaultPlan.seeded(3).with(Fault.dropRequest(), 0.0).build();
    for (int i = 0; i < 100; i++) {
      assertThat(always.next("a/b")).isEqualTo(Fault.dropRequest());
      assertThat(never.next("a/b")).isNull();
    }
    assertThat(always.injected()).hasSize(100);
    assertThat(never.injected()).isEmpty();
  }
}
