package sluice.peers.streams;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import sluice.peers.Args;
import sluice.peers.Bid;
import sluice.peers.Json;
import sluice.peers.Measure;
import sluice.peers.Row;
import sluice.peers.Rows;

/**
 * One Nexmark query on Kafka Streams, the peer of `npm run bench:nexmark` (bench/peers/main.ts
 * runs it, after LoadTopic filled the input topic):
 *
 * <pre>
 *   java -cp … sluice.peers.streams.NexmarkStreams --query q5 --bootstrap 127.0.0.1:9092 \
 *     --input T --events 1000000 [--commit-ms 100] [--broker-pid PID] [--warmup-input T0]
 * </pre>
 *
 * <p>One stream thread (one core's worth of processing, as Sluice's one JS thread) on the
 * one-partition input topic, processing.guarantee exactly_once_v2, commit.interval.ms
 * --commit-ms, RocksDB state stores (the default) in a temporary state directory, a fresh
 * application id per run. Timed: from `KafkaStreams.start()` (the group join and the first
 * assignment included) until the committed offsets reach the end of the input and of every
 * repartition topic ({@link Progress}, polled every 20 ms). The outputs are then read back
 * from the output topic (read_committed, not timed), counted and checksummed; the run's topics,
 * group and state are deleted. `--broker-pid`: the broker's CPU time over the timed part is
 * reported too (brokerCpuMs), from /proc. `--warmup-input`: the same query first runs, untimed,
 * over that topic (the first events), as an application of its own in the same JVM.
 */
public final class NexmarkStreams {
  private NexmarkStreams() {}

  public static void main(String[] argv) throws Exception {
    Args args = new Args(argv);
    String query = args.string("query");
    String bootstrap = args.string("bootstrap");
    long events = args.number("events");
    Run run = new Run(query, bootstrap, args.number("commit-ms", 100), args.string("trace", "false").equals("true"),
        // A stage that commits nothing new for this long has stopped: fail with the offsets instead of waiting forever.
        args.number("stall-ms", 120_000));
    long brokerPid = args.number("broker-pid", -1);
    String warmup = args.string("warmup-input", "");
    // The same query over a topic of the first events, untimed: the JIT compiles Kafka Streams'
    // and the topology's hot code before the clock starts.
    if (!warmup.isEmpty()) run.app(warmup, brokerPid, null);
    Map<String, Object> extra = new LinkedHashMap<>();
    extra.put("warmedUp", !warmup.isEmpty());
    run.app(args.string("input"), brokerPid, extra);
    @SuppressWarnings("unchecked")
    Map<String, Object> result = (Map<String, Object>) extra.get("result");
    if (((Number) result.get("events")).longValue() != events) {
      throw new IllegalStateException("the input topic holds " + result.get("events") + " events, not " + events);
    }
    Measure.print(result);
  }

  /** What every application run of this process shares. */
  private record Run(String query, String bootstrap, long commitMs, boolean trace, long stallMs) {
    /**
     * One application over `input`, from start to done, then its outputs read back and its
     * topics, group and state deleted. With `report`, the timed result goes in report.get("result").
     */
    void app(String input, long brokerPid, Map<String, Object> report) throws Exception {
      String appId = "sluice-peers-" + query + "-" + UUID.randomUUID().toString().substring(0, 8);
      String output = appId + "-out";
      Path stateDir = Files.createTempDirectory("sluice-peers-streams-");
      Properties props = new Properties();
      props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
      props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
      props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
      props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, commitMs);
      props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
      props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
      props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
      props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
      // Emit a closed window as soon as stream time passes its end, as Sluice does when the
      // watermark passes it. By default onWindowClose() looks for closed windows at most once a
      // second of wall-clock time, so the windows that close in the last second of a run would
      // stay unemitted; 0 (an internal setting, the one Kafka's own tests use) looks at every record.
      props.put(StreamsConfig.InternalConfig.EMIT_INTERVAL_MS_KSTREAMS_WINDOWED_AGGREGATION, 0L);

      Topology topology = Queries.build(query, input, output);
      try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
        admin.createTopics(List.of(Topics.keepForever(output))).all().get();
        Progress progress = new Progress(admin, appId, topology, input);
        // The run's own topics: the repartition topics and the output (the input stays for the next run).
        List<String> topics = new ArrayList<>(progress.topics());
        topics.remove(input);
        topics.add(output);
        KafkaStreams streams = new KafkaStreams(topology, props);
        long[] runningAtNs = {-1};
        long startNs = System.nanoTime();
        streams.setStateListener((now, before) -> {
          if (now == KafkaStreams.State.RUNNING && runningAtNs[0] < 0) runningAtNs[0] = System.nanoTime();
          if (trace) System.err.printf("%.0f ms: %s -> %s%n", (System.nanoTime() - startNs) / 1e6, before, now);
        });
        long broker0 = brokerCpuMs(brokerPid);
        Measure measure = Measure.start();
        streams.start();
        long lastProgressNs = System.nanoTime();
        for (int at = 0; at < progress.size(); ) {
          if (System.nanoTime() - lastProgressNs > stallMs * 1_000_000) {
            throw new IllegalStateException("no progress for " + stallMs + " ms:\n" + progress.describe());
          }
          if (streams.state() == KafkaStreams.State.ERROR || streams.state() == KafkaStreams.State.NOT_RUNNING) {
            throw new IllegalStateException("Kafka Streams stopped: " + streams.state());
          }
          Thread.sleep(20);
          int was = at;
          at = progress.done(at);
          if (at > was) lastProgressNs = System.nanoTime();
          if (at > was && trace) {
            System.err.printf("%.0f ms: done with %s%n", (System.nanoTime() - startNs) / 1e6, progress.topics().subList(was, at));
          }
        }
        measure.stop();
        long broker1 = brokerCpuMs(brokerPid);
        // Leave the group on close, so that it can be deleted at once (not after the session timeout).
        streams.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
            .withTimeout(Duration.ofSeconds(60)));
        streams.cleanUp();
        if (report != null) {
          long[] read = readOutput(bootstrap, output, query);
          long events = admin.listOffsets(Map.of(new TopicPartition(input, 0), OffsetSpec.latest()))
              .all().get().values().iterator().next().offset();
          report.put("engine", "kafka-streams");
          report.put("kafkaStreamsVersion", org.apache.kafka.common.utils.AppInfoParser.getVersion());
          report.put("commitMs", commitMs);
          report.put("runningAfterMs", runningAtNs[0] < 0 ? null : (runningAtNs[0] - startNs) / 1e6);
          if (brokerPid > 0) report.put("brokerCpuMs", broker1 - broker0);
          Map<String, Object> extra = new LinkedHashMap<>(report);
          report.put("result", measure.result(query, events, read[0], (int) read[1], extra));
        }
        admin.deleteTopics(topics).all().get();
        admin.deleteConsumerGroups(List.of(appId)).all().get();
      } finally {
        try (var paths = Files.walk(stateDir)) {
          paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
      }
    }
  }

  /** The committed rows of the output topic: count and checksum (read_committed, from the start to the end). */
  private static long[] readOutput(String bootstrap, String topic, String query) {
    Class<? extends Row> type = switch (query) {
      case "q0" -> Bid.class;
      case "q1" -> Rows.Q1.class;
      case "q2" -> Rows.Q2.class;
      case "q5" -> Rows.Q5.class;
      case "q7" -> Rows.Q7.class;
      case "q8" -> Rows.Q8.class;
      default -> throw new IllegalArgumentException(query);
    };
    Properties props = new Properties();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    TopicPartition tp = new TopicPartition(topic, 0);
    long outputs = 0;
    int checksum = 0;
    try (KafkaConsumer<byte[], byte[]> consumer =
        new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      consumer.assign(List.of(tp));
      consumer.seekToBeginning(List.of(tp));
      long end = consumer.endOffsets(List.of(tp)).get(tp);
      while (consumer.position(tp) < end) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
          outputs++;
          checksum += Json.read(r.value(), type).hash();
        }
      }
    }
    return new long[] {outputs, checksum};
  }

  /** The broker's user + system CPU time from /proc/PID/stat (clock ticks of 10 ms, Linux's USER_HZ); 0 without a pid. */
  private static long brokerCpuMs(long pid) {
    if (pid <= 0) return 0;
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      // Fields after the command name (which may hold spaces) start after the last ')'.
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10;
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
