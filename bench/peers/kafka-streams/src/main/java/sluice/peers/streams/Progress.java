package sluice.peers.streams;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyDescription;

/**
 * When the application is done: its consumer group's committed offsets (with
 * exactly_once_v2 they are committed in the same transaction as the outputs they led to)
 * reach the end of every topic it reads, the input and each repartition topic — the rule
 * bench/nexmark/run.ts applies to Sluice.
 *
 * <p>The topics are checked in the order the data flows (subtopology 0 reads the input, the
 * next one the repartition topic the previous one writes, …), each only once the one before
 * is done: when a stage has committed the end of its input, the transaction that wrote its
 * last repartition records has committed too, so the end offset of that repartition topic
 * read afterwards is final. A committed offset may pass the last record by the transaction
 * marker after it; "done" is committed ≥ end offset.
 */
final class Progress {
  private final Admin admin;
  private final String group;
  private final List<TopicPartition> inOrder = new ArrayList<>();

  Progress(Admin admin, String applicationId, Topology topology, String input) {
    this.admin = admin;
    this.group = applicationId;
    for (TopologyDescription.Subtopology sub : topology.describe().subtopologies()) {
      for (TopologyDescription.Node node : sub.nodes()) {
        if (!(node instanceof TopologyDescription.Source source)) continue;
        for (String topic : source.topicSet()) {
          // Repartition topics are named in the topology without the application id prefix.
          String name = topic.equals(input) ? topic : applicationId + "-" + topic;
          inOrder.add(new TopicPartition(name, 0));
        }
      }
    }
  }

  /** The topics the application reads, input first: the ones to clean up after the run, with the output. */
  List<String> topics() {
    return inOrder.stream().map(TopicPartition::topic).toList();
  }

  /** How far the application is: the index of the first topic not consumed to its end, or size() when done. */
  int done(int from) throws ExecutionException, InterruptedException {
    Map<TopicPartition, OffsetAndMetadata> committed =
        admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
    int i = from;
    for (; i < inOrder.size(); i++) {
      TopicPartition tp = inOrder.get(i);
      // Nothing committed yet reads as 0: a repartition topic nothing was written to is done at once.
      OffsetAndMetadata c = committed.get(tp);
      long end = admin.listOffsets(Map.of(tp, OffsetSpec.latest())).partitionResult(tp).get().offset();
      if ((c == null ? 0 : c.offset()) < end) return i;
    }
    return i;
  }

  /** Committed and end offset of every topic, for the error when the application stops making progress. */
  String describe() throws ExecutionException, InterruptedException {
    Map<TopicPartition, OffsetAndMetadata> committed =
        admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
    StringBuilder out = new StringBuilder();
    for (TopicPartition tp : inOrder) {
      long end = admin.listOffsets(Map.of(tp, OffsetSpec.latest())).partitionResult(tp).get().offset();
      OffsetAndMetadata c = committed.get(tp);
      out.append(String.format("%s: committed %s of %d%n", tp.topic(), c == null ? "nothing" : Long.toString(c.offset()), end));
    }
    return out.toString();
  }

  int size() {
    return inOrder.size();
  }
}
