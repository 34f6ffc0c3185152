package sluice.peers;

import java.util.HashMap;
import java.util.Map;

/** `--name value` pairs, as bench/peers/main.ts passes them; a missing required one is an error that names it. */
public final class Args {
  private final Map<String, String> values = new HashMap<>();

  public Args(String[] argv) {
    for (int i = 0; i < argv.length; i++) {
      if (!argv[i].startsWith("--") || i + 1 >= argv.length) {
        throw new IllegalArgumentException("expected --name value pairs, got " + String.join(" ", argv));
      }
      values.put(argv[i].substring(2), argv[++i]);
    }
  }

  public String string(String name) {
    String v = values.get(name);
    if (v == null) throw new IllegalArgumentException("missing --" + name);
    return v;
  }

  public String string(String name, String fallback) {
    return values.getOrDefault(name, fallback);
  }

  public long number(String name) {
    return Long.parseLong(string(name));
  }

  public long number(String name, long fallback) {
    String v = values.get(name);
    return v == null ? fallback : Long.parseLong(v);
  }
}
