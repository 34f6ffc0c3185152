package sluice.peers;

import com.sun.management.OperatingSystemMXBean;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a peer's timed run reports, measured the way bench/nexmark/run.ts measures Sluice:
 * wall time, the process's CPU time (user + system, every thread: the engine's, the JIT
 * compilers' and the garbage collector's), and the highest heap in use and resident set size
 * seen by a sampler every 10 ms during the run.
 */
public final class Measure implements AutoCloseable {
  private static final OperatingSystemMXBean OS =
      (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
  private static final MemoryMXBean MEMORY = ManagementFactory.getMemoryMXBean();
  private static final long PAGE = 4096;

  private final Thread sampler;
  private volatile boolean running = true;
  private volatile long peakHeap;
  private volatile long peakRss;
  private final long wall0;
  private final long cpu0;
  private long wallNs = -1;
  private long cpuNs = -1;

  private Measure() {
    sample();
    sampler = new Thread(() -> {
      while (running) {
        sample();
        try {
          Thread.sleep(10);
        } catch (InterruptedException e) {
          return;
        }
      }
    }, "measure-sampler");
    sampler.setDaemon(true);
    sampler.start();
    wall0 = System.nanoTime();
    cpu0 = OS.getProcessCpuTime();
  }

  /** Starts the clocks (call right before the timed part). */
  public static Measure start() {
    return new Measure();
  }

  private void sample() {
    long heap = MEMORY.getHeapMemoryUsage().getUsed();
    if (heap > peakHeap) peakHeap = heap;
    long rss = rss();
    if (rss > peakRss) peakRss = rss;
  }

  /** Resident set size from /proc/self/statm (second field, in pages); 0 where there is no /proc. */
  private static long rss() {
    try {
      String[] fields = Files.readString(Path.of("/proc/self/statm")).trim().split(" ");
      return Long.parseLong(fields[1]) * PAGE;
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  /** Stops the clocks (call right after the timed part). */
  public void stop() {
    cpuNs = OS.getProcessCpuTime() - cpu0;
    wallNs = System.nanoTime() - wall0;
    running = false;
    sampler.interrupt();
    sample();
  }

  @Override
  public void close() {
    if (wallNs < 0) stop();
  }

  /** The run as one JSON line's fields; `extra` adds the engine's own. */
  public Map<String, Object> result(String query, long events, long outputs, int checksum, Map<String, Object> extra) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("query", query);
    out.put("events", events);
    out.put("outputs", outputs);
    out.put("checksum", checksum);
    out.put("wallMs", wallNs / 1e6);
    out.put("cpuMs", cpuNs / 1e6);
    out.put("peakHeap", peakHeap);
    out.put("peakRss", peakRss);
    out.put("javaVersion", System.getProperty("java.version"));
    out.putAll(extra);
    return out;
  }

  /** Prints the run as one JSON line on stdout: the line bench/peers/main.ts reads. */
  public static void print(Map<String, Object> result) {
    System.out.println(Json.string(result));
    System.out.flush();
  }
}
