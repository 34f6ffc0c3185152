package sluice.peers.flink;

import org.apache.flink.api.common.accumulators.IntCounter;
import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import sluice.peers.Json;
import sluice.peers.Row;

/**
 * The sink's work: each row is encoded as JSON (what Sluice and Kafka Streams pay to write a
 * result to their output topic; here the bytes are counted and dropped), counted, and its hash
 * added to the checksum. The totals come back in the job's accumulators.
 */
final class CountRows<T extends Row> extends ProcessFunction<T, Void> {
  static final String OUTPUTS = "outputs";
  static final String CHECKSUM = "checksum";
  static final String BYTES = "output-bytes";

  private final LongCounter outputs = new LongCounter();
  private final IntCounter checksum = new IntCounter();
  private final LongCounter bytes = new LongCounter();

  @Override
  public void open(OpenContext context) {
    getRuntimeContext().addAccumulator(OUTPUTS, outputs);
    getRuntimeContext().addAccumulator(CHECKSUM, checksum);
    getRuntimeContext().addAccumulator(BYTES, bytes);
  }

  @Override
  public void processElement(T row, Context context, Collector<Void> out) {
    bytes.add(Json.bytes(row).length);
    outputs.add(1L);
    checksum.add(row.hash());
  }
}
