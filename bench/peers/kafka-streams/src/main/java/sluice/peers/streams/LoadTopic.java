package sluice.peers.streams;

import java.io.BufferedReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import sluice.peers.Args;
import sluice.peers.Json;
import sluice.peers.Measure;

/**
 * Loads the events file into a new one-partition Kafka topic (not timed): one record per line,
 * no key, the line's bytes as the value — the same JSON as Sluice's events topic — and the
 * event's dateTime as the record timestamp, so Kafka Streams' default timestamp extractor
 * reads event time from the record, as Kafka applications do. The topic keeps its records
 * forever: the events are dated 2025, and the broker's 7-day retention would delete them.
 *
 * <pre>
 *   java -cp … sluice.peers.streams.LoadTopic --bootstrap 127.0.0.1:9092 --topic T --file events.ndjson
 * </pre>
 */
public final class LoadTopic {
  private LoadTopic() {}

  public static void main(String[] argv) throws Exception {
    Args args = new Args(argv);
    String bootstrap = args.string("bootstrap");
    String topic = args.string("topic");
    Path file = Path.of(args.string("file"));
    long t0 = System.nanoTime();
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
      admin.createTopics(List.of(Topics.keepForever(topic))).all().get();
    }
    Properties props = new Properties();
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ProducerConfig.ACKS_CONFIG, "all");
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    props.put(ProducerConfig.LINGER_MS_CONFIG, 20);
    props.put(ProducerConfig.BATCH_SIZE_CONFIG, 512 * 1024);
    long events = 0;
    long bytes = 0;
    try (KafkaProducer<byte[], byte[]> producer =
            new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer());
        BufferedReader lines = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      for (String line = lines.readLine(); line != null; line = lines.readLine()) {
        byte[] value = line.getBytes(StandardCharsets.UTF_8);
        long time = Json.event(value).time();
        producer.send(new ProducerRecord<>(topic, null, time, null, value), (metadata, error) -> {
          if (error != null) {
            error.printStackTrace();
            System.exit(1);
          }
        });
        events++;
        bytes += value.length;
      }
      producer.flush();
    }
    Measure.print(Map.of("topic", topic, "events", events, "bytes", bytes, "ms", (System.nanoTime() - t0) / 1e6));
  }
}
