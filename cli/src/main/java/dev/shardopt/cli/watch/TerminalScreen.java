package dev.shardopt.cli.watch;

import java.io.IOError;
import java.io.IOException;
import java.util.List;
import org.jline.terminal.Attributes;
import org.jline.terminal.Size;
import org.jline.terminal.Terminal;
import org.jline.utils.AttributedString;
import org.jline.utils.Display;
import org.jline.utils.InfoCmp.Capability;
import org.jline.utils.NonBlockingReader;

/**
 * The terminal side of {@code watch}, through JLine: raw keyboard input, the alternate screen, and
 * {@link Display}, which redraws in place only what changed. {@link #close} gives the terminal back
 * as it was (its modes, the main screen, the cursor).
 */
public final class TerminalScreen implements AutoCloseable {
  /** What {@link #awaitKey} saw before its time was up. */
  public enum Input { NOTHING, QUIT, RESIZED }

  private static final int CTRL_C = 3;
  private final Terminal terminal;
  private final Attributes saved;
  private final Display display;
  private volatile boolean interrupted;
  private volatile boolean resized;
  /** Read at the start and after each SIGWINCH only: without JLine's JNI provider each read runs {@code stty}. */
  private Size size;

  public TerminalScreen(Terminal terminal) {
    this.terminal = terminal;
    this.saved = terminal.enterRawMode();
    // Ctrl-C arrives as SIGINT (raw mode keeps ISIG) or, where a terminal passes it through, as the byte 3.
    terminal.handle(Terminal.Signal.INT, s -> interrupted = true);
    terminal.handle(Terminal.Signal.WINCH, s -> resized = true);
    terminal.puts(Capability.enter_ca_mode);
    terminal.puts(Capability.cursor_invisible);
    terminal.flush();
    this.display = new Display(terminal, true);
    this.size = terminal.getSize();
    display.resize(size.getRows(), size.getColumns());
  }

  /** Whether the terminal's encoding can show {@link Sparkline#BLOCKS}. */
  public boolean showsBlocks() {
    return terminal.encoding().newEncoder().canEncode("▁█");
  }

  public int width() {
    return Math.max(20, size.getColumns());
  }

  public int height() {
    return Math.max(3, size.getRows());
  }

  /**
   * Reads the terminal's size again if it changed since the last call ({@link Input#RESIZED}), so that
   * {@link #width} and {@link #height} are the ones the next {@link #draw} fills.
   */
  public void followResize() {
    if (resized) {
      resized = false;
      try {
        size = terminal.getSize();
      } catch (IOError e) {
        if (!interrupted) {
          throw e;
        }
        // Ctrl-C killed JLine's stty as well (no JNI provider); the next awaitKey quits
      }
      display.clear();
      display.resize(size.getRows(), size.getColumns());
    }
  }

  /** Shows {@code lines} (each at most {@link #width} long), changing only what differs from the last screen. */
  public void draw(List<String> lines) {
    display.update(lines.stream().map(AttributedString::new).toList(), 0);
    terminal.flush();
  }

  /**
   * Waits up to {@code millis} for a key: {@code q} or Ctrl-C is {@link Input#QUIT}, a resize
   * {@link Input#RESIZED} (to redraw at once); other keys are ignored.
   */
  public Input awaitKey(long millis) throws IOException {
    long deadline = System.nanoTime() + millis * 1_000_000L;
    NonBlockingReader reader = terminal.reader();
    while (true) {
      if (interrupted) {
        return Input.QUIT;
      }
      if (resized) {
        return Input.RESIZED;
      }
      long left = (deadline - System.nanoTime()) / 1_000_000L;
      if (left <= 0) {
        return Input.NOTHING;
      }
      // short reads, so that a signal's flag is seen within 100 ms
      int c = reader.read(Math.min(left, 100));
      if (c == 'q' || c == 'Q' || c == CTRL_C) {
        return Input.QUIT;
      }
      if (c == NonBlockingReader.EOF) {
        return Input.QUIT; // the terminal went away
      }
    }
  }

  @Override
  public void close() throws IOException {
    terminal.puts(Capability.cursor_visible);
    terminal.puts(Capability.exit_ca_mode);
    terminal.setAttributes(saved);
    terminal.flush();
    terminal.close();
  }
}
