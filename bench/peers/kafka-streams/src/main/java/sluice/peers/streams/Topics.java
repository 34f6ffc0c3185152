package sluice.peers.streams;

import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import sluice.peers.Args;
import sluice.peers.Measure;

/**
 * The benchmark's topics. Every record is dated by its event time, 2025 and on, so a topic
 * with the broker's default retention (7 days by record timestamp) would lose its records at
 * the next retention check: the topics the harnesses create keep theirs forever. (Kafka
 * Streams creates its repartition topics that way itself.)
 *
 * <p>Run as a program, it deletes every topic whose name starts with --prefix: what runs that
 * failed half-way left behind.
 */
public final class Topics {
  private Topics() {}

  static NewTopic keepForever(String name) {
    return new NewTopic(name, 1, (short) 1).configs(Map.of("retention.ms", "-1", "retention.bytes", "-1"));
  }

  public static void main(String[] argv) throws Exception {
    Args args = new Args(argv);
    String prefix = args.string("prefix");
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args.string("bootstrap")))) {
      List<String> doomed = admin.listTopics().names().get().stream().filter(t -> t.startsWith(prefix)).toList();
      if (!doomed.isEmpty()) admin.deleteTopics(doomed).all().get();
      Measure.print(Map.of("deleted", doomed.size()));
    }
  }
}
