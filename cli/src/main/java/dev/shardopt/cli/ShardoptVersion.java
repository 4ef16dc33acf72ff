package dev.shardopt.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine.IVersionProvider;

/**
 * The version lines of {@code shardopt --version} and {@code shardopt version}: the project version (from
 * {@code version.properties}, which Maven fills in at build time) and the Java runtime.
 */
public final class ShardoptVersion implements IVersionProvider {

  /** The project version, e.g. {@code 0.1.0-SNAPSHOT}, or {@code unknown} outside a Maven build. */
  public static String version() {
    try (InputStream in = ShardoptVersion.class.getResourceAsStream("version.properties")) {
      if (in == null) {
        return "unknown";
      }
      Properties p = new Properties();
      p.load(in);
      String v = p.getProperty("version", "unknown");
      return v.startsWith("${") ? "unknown" : v;
    } catch (IOException e) {
      return "unknown";
    }
  }

  @Override
  public String[] getVersion() {
    return new String[] {
      "shardopt " + version(),
      "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vendor") + "), "
          + System.getProperty("os.name") + " " + System.getProperty("os.arch")
    };
  }
}
