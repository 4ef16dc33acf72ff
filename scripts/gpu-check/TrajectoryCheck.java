import dev.shardopt.cli.io.Tensor;
import dev.shardopt.cli.io.TensorFiles;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;

/**
 * scripts/gpu-check.sh's tolerance check: a replay's trajectory against a reference case's
 * expected.npy/npz, with the rule of cli's ReferenceConformanceTest and the reference README:
 * every element of every step within |got - expected| <= 2e-6 + 2e-5 |expected| (a NaN never
 * passes), same tensor names and shapes. Prints the worst ratio of |diff| to tolerance; exits 1 on a
 * violation. Compiled by gpu-check.sh --build against the runtime image's jars.
 */
public final class TrajectoryCheck {
  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: TrajectoryCheck GOT EXPECTED");
      System.exit(64);
    }
    Map<String, Tensor> got = TensorFiles.read(Path.of(args[0]));
    Map<String, Tensor> want = TensorFiles.read(Path.of(args[1]));
    if (!got.keySet().equals(want.keySet())) {
      System.out.println("tensor names " + got.keySet() + ", expected " + want.keySet());
      System.exit(1);
    }
    double worst = 0;
    for (Map.Entry<String, Tensor> e : want.entrySet()) {
      Tensor w = e.getValue();
      Tensor g = got.get(e.getKey());
      if (!Arrays.equals(g.shape(), w.shape())) {
        System.out.println(e.getKey() + ": shape " + Arrays.toString(g.shape()) + ", expected "
            + Arrays.toString(w.shape()));
        System.exit(1);
      }
      float[] wd = w.data();
      float[] gd = g.data();
      for (int i = 0; i < wd.length; i++) {
        double tol = 2e-6 + 2e-5 * Math.abs(wd[i]);
        double diff = Math.abs((double) gd[i] - wd[i]);
        if (!(diff <= tol)) {
          System.out.println(String.format(Locale.ROOT, "%s element %d: got %s, expected %s (|diff| %.3g > tol %.3g)",
              e.getKey(), i, gd[i], wd[i], diff, tol));
          System.exit(1);
        }
        worst = Math.max(worst, diff / tol);
      }
    }
    System.out.println(String.format(Locale.ROOT, "within tolerance of libtorch (worst |diff|/tol %.3f)", worst));
  }
}
