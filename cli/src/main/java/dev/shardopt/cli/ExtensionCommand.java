package dev.shardopt.cli;

/**
 * A subcommand that lives in another module and joins the command line through {@link
 * java.util.ServiceLoader} when that module is on the classpath ({@code train} and {@code compare},
 * which need ND4J). The server commands thus run on a classpath without those modules. An
 * implementation is a picocli {@code @Command} with a public no-argument constructor, listed in
 * {@code META-INF/services/dev.shardopt.cli.ExtensionCommand}.
 */
public interface ExtensionCommand {}
