package sluice.peers.flink;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.connector.file.src.FileSource;
import org.apache.flink.connector.file.src.reader.TextLineInputFormat;
import org.apache.flink.core.execution.CheckpointingMode;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import sluice.peers.Args;
import sluice.peers.Event;
import sluice.peers.Measure;

/**
 * One Nexmark query on Apache Flink, the peer of `npm run bench:nexmark` (bench/peers/main.ts
 * runs it):
 *
 * <pre>
 *   java -cp 'target/classes:target/lib/*' sluice.peers.flink.NexmarkFlink \
 *     --query q5 --file events.ndjson --events 1000000 [--checkpoint-ms 100] [--disorder-ms 0] \
 *     [--warmup-file first-events.ndjson]
 * </pre>
 *
 * <p>A local MiniCluster with one task manager and one slot, parallelism 1 (one core's worth
 * of processing, as Sluice's one JS thread), object reuse on (as the Nexmark Flink setup
 * runs). The events come from the NDJSON file bench/peers/generate.ts wrote, parsed with
 * Jackson; event time is each event's dateTime, the watermark as far behind the newest event
 * as Sluice's source watermark (the generator's disorder bound, 0 for in-order events).
 * Checkpoints every --checkpoint-ms, exactly-once, the heap state backend with its snapshots in a
 * directory of local files. The file is bounded: at its end the watermark jumps to the end of
 * time, so every window closes (Sluice and Kafka Streams read a topic and leave the last
 * windows open; bench/peers/expected.ts accounts for that).
 *
 * <p>Timed: from submitting the job to the cluster (already started) until the job has
 * finished, its last checkpoint included. With --warmup-file, the same job first runs over
 * that file, untimed. Prints one JSON line (see {@link Measure}).
 */
public final class NexmarkFlink {
  private NexmarkFlink() {}

  public static void main(String[] argv) throws Exception {
    Args args = new Args(argv);
    String query = args.string("query");
    String file = args.string("file");
    long events = args.number("events");
    long checkpointMs = args.number("checkpoint-ms", 100);
    long disorderMs = args.number("disorder-ms", 0);
    Path checkpoints = Files.createTempDirectory("sluice-peers-flink-");

    Configuration conf = new Configuration();
    conf.set(CoreOptions.DEFAULT_PARALLELISM, 1);
    conf.set(TaskManagerOptions.NUM_TASK_SLOTS, 1);
    conf.set(PipelineOptions.OBJECT_REUSE, true);
    // Every type has a Flink serializer: a type that would fall back to Kryo fails the job instead.
    conf.set(PipelineOptions.GENERIC_TYPES, false);
    conf.set(StateBackendOptions.STATE_BACKEND, "hashmap");
    conf.set(CheckpointingOptions.CHECKPOINT_STORAGE, "filesystem");
    conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, checkpoints.toUri().toString());

    JobGraph job = job(conf, query, file, checkpointMs, disorderMs);
    String warmupFile = args.string("warmup-file", "");
    JobGraph warmup = warmupFile.isEmpty() ? null : job(conf, query, warmupFile, checkpointMs, disorderMs);

    MiniClusterConfiguration cluster = new MiniClusterConfiguration.Builder()
        .setConfiguration(conf)
        .setNumTaskManagers(1)
        .setNumSlotsPerTaskManager(1)
        .build();
    try (MiniCluster mini = new MiniCluster(cluster)) {
      mini.start();
      // The same job over the first events, untimed: the JIT compiles Flink's and the job's hot
      // code before the clock starts (the classes are shared between jobs of one MiniCluster).
      if (warmup != null) mini.executeJobBlocking(warmup);
      Measure measure = Measure.start();
      JobExecutionResult result = mini.executeJobBlocking(job);
      measure.stop();
      long outputs = result.<Long>getAccumulatorResult(CountRows.OUTPUTS);
      int checksum = result.<Integer>getAccumulatorResult(CountRows.CHECKSUM);
      Map<String, Object> extra = new LinkedHashMap<>();
      extra.put("engine", "flink");
      extra.put("flinkVersion", org.apache.flink.runtime.util.EnvironmentInformation.getVersion());
      extra.put("outputBytes", result.<Long>getAccumulatorResult(CountRows.BYTES));
      extra.put("jobNetRuntimeMs", result.getNetRuntime());
      extra.put("checkpointMs", checkpointMs);
      extra.put("warmedUp", warmup != null);
      Measure.print(measure.result(query, events, outputs, checksum, extra));
    } finally {
      deleteTree(checkpoints);
    }
  }

  /** The query's job over `file`: source, parse, event time, the query, the counting sink. */
  private static JobGraph job(Configuration conf, String query, String file, long checkpointMs, long disorderMs) {
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
    env.setParallelism(1);
    env.enableCheckpointing(checkpointMs, CheckpointingMode.EXACTLY_ONCE);
    FileSource<String> source =
        FileSource.forRecordStreamFormat(new TextLineInputFormat(), new org.apache.flink.core.fs.Path(file)).build();
    DataStream<Event> parsed = env.fromSource(source, WatermarkStrategy.noWatermarks(), "events-file")
        .map(new Queries.Parse())
        .name("parse");
    DataStream<Event> timed = parsed.assignTimestampsAndWatermarks(
        WatermarkStrategy.<Event>forBoundedOutOfOrderness(Duration.ofMillis(disorderMs))
            .withTimestampAssigner((e, recordTime) -> e.time()));
    Queries.build(query, timed);
    return env.getStreamGraph().getJobGraph();
  }

  private static void deleteTree(Path dir) throws java.io.IOException {
    try (var paths = Files.walk(dir)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
