package sluice.peers.streams;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.EmitStrategy;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.WindowStore;
import sluice.peers.Bid;
import sluice.peers.Event;
import sluice.peers.Rows;

/**
 * The queries as Kafka Streams DSL topologies, each the plan of Sluice's
 * bench/nexmark/queries/qN.ts: the same re-keyings (each a repartition topic, as in Sluice),
 * the same windows with no grace (Sluice's allowed lateness 0) emitting once when they close
 * (`EmitStrategy.onWindowClose()`), the same rows, written as JSON to the output topic.
 */
final class Queries {
  private static final Serde<byte[]> BYTES = Serdes.ByteArray();
  private static final Serde<Long> LONG = Serdes.Long();
  private static final Serde<String> STRING = Serdes.String();
  private static final Duration Q5_SIZE = Duration.ofSeconds(10);
  private static final Duration Q5_ADVANCE = Duration.ofSeconds(2);
  private static final Duration WINDOW_10S = Duration.ofSeconds(10);

  private Queries() {}

  static Topology build(String query, String input, String output) {
    StreamsBuilder builder = new StreamsBuilder();
    KStream<byte[], Event> events = builder.stream(input, Consumed.with(BYTES, JsonSerde.of(Event.class)));
    KStream<byte[], Bid> bids = events.filter((k, e) -> e.bid != null).mapValues(e -> e.bid);
    switch (query) {
      case "q0" -> bids.to(output, Produced.with(BYTES, JsonSerde.of(Bid.class)));
      case "q1" -> bids.mapValues(Rows.Q1::of).to(output, Produced.with(BYTES, JsonSerde.of(Rows.Q1.class)));
      case "q2" ->
          bids.filter((k, b) -> b.auction % 123 == 0)
              .mapValues(Rows.Q2::of)
              .to(output, Produced.with(BYTES, JsonSerde.of(Rows.Q2.class)));
      case "q5" -> q5(bids, output);
      case "q7" -> q7(bids, output);
      case "q8" -> q8(events, output);
      default -> throw new IllegalArgumentException("no Kafka Streams version of " + query + " (q0, q1, q2, q5, q7, q8)");
    }
    return builder.build();
  }

  /** Hot items: counts per auction in hopping windows, then per window the auctions with the most. */
  private static void q5(KStream<byte[], Bid> bids, String output) {
    bids.map((k, b) -> KeyValue.pair(b.auction, b.auction))
        .groupByKey(Grouped.with("bids-by-auction", LONG, LONG))
        .windowedBy(TimeWindows.ofSizeWithNoGrace(Q5_SIZE).advanceBy(Q5_ADVANCE))
        .emitStrategy(EmitStrategy.onWindowClose())
        .count(Materialized.<Long, Long, WindowStore<Bytes, byte[]>>as("bids-per-auction")
            .withKeySerde(LONG)
            .withValueSerde(LONG))
        .toStream()
        .process(ByWindowStart::new)
        .groupByKey(Grouped.with("counts-by-window", LONG, JsonSerde.of(State.AuctionCount.class)))
        .windowedBy(TimeWindows.ofSizeWithNoGrace(Q5_ADVANCE))
        .emitStrategy(EmitStrategy.onWindowClose())
        .aggregate(
            State.Hottest::new,
            (start, c, best) -> {
              if (c.count > best.num) {
                best.num = c.count;
                best.auctions.clear();
                best.auctions.add(c.auction);
              } else if (c.count == best.num) {
                best.auctions.add(c.auction);
              }
              return best;
            },
            Materialized.<Long, State.Hottest, WindowStore<Bytes, byte[]>>as("hottest")
                .withKeySerde(LONG)
                .withValueSerde(JsonSerde.of(State.Hottest.class)))
        .toStream()
        .flatMap((window, best) -> {
          long start = window.key();
          List<KeyValue<Long, Rows.Q5>> rows = new ArrayList<>(best.auctions.size());
          for (long auction : best.auctions) {
            rows.add(KeyValue.pair(start, Rows.Q5.of(auction, best.num, start, start + Q5_SIZE.toMillis())));
          }
          return rows;
        })
        .to(output, Produced.with(LONG, JsonSerde.of(Rows.Q5.class)));
  }

  /**
   * A closed window's count, re-keyed by the window's start and stamped with the window's
   * last instant (end − 1), as Sluice stamps windowed results: the next stage's 2 s tumbling
   * window then holds exactly the counts of one 10 s window.
   */
  static final class ByWindowStart implements Processor<Windowed<Long>, Long, Long, State.AuctionCount> {
    private ProcessorContext<Long, State.AuctionCount> context;

    @Override
    public void init(ProcessorContext<Long, State.AuctionCount> context) {
      this.context = context;
    }

    @Override
    public void process(Record<Windowed<Long>, Long> record) {
      State.AuctionCount c = new State.AuctionCount();
      c.auction = record.key().key();
      c.count = record.value();
      c.start = record.key().window().start();
      context.forward(new Record<>(c.start, c, record.key().window().end() - 1));
    }
  }

  /** Highest bid: every bid is re-keyed to one key (one task sees them all), 10 s tumbling windows. */
  private static void q7(KStream<byte[], Bid> bids, String output) {
    bids.map((k, b) -> KeyValue.pair("all", Rows.Q7.of(b)))
        .groupByKey(Grouped.with("all-bids", STRING, JsonSerde.of(Rows.Q7.class)))
        .windowedBy(TimeWindows.ofSizeWithNoGrace(WINDOW_10S))
        .emitStrategy(EmitStrategy.onWindowClose())
        .aggregate(
            State.Highest::new,
            (key, b, best) -> {
              if (b.price > best.price) {
                best.price = b.price;
                best.bids.clear();
                best.bids.add(b);
              } else if (b.price == best.price) {
                best.bids.add(b);
              }
              return best;
            },
            Materialized.<String, State.Highest, WindowStore<Bytes, byte[]>>as("highest-bid")
                .withKeySerde(STRING)
                .withValueSerde(JsonSerde.of(State.Highest.class)))
        .toStream()
        .flatMapValues(best -> best.bids)
        .map((window, b) -> KeyValue.pair(window.key(), b))
        .to(output, Produced.with(STRING, JsonSerde.of(Rows.Q7.class)));
  }

  /** Monitor new users: registrations and auctions keyed by person, a 10 s tumbling window per person. */
  private static void q8(KStream<byte[], Event> events, String output) {
    events.filter((k, e) -> e.bid == null)
        .map((k, e) -> {
          State.Activity a = new State.Activity();
          if (e.person != null) {
            a.person = e.person.id;
            a.name = e.person.name;
          } else {
            a.person = e.auction.seller;
          }
          return KeyValue.pair(a.person, a);
        })
        .groupByKey(Grouped.with("activity-by-person", LONG, JsonSerde.of(State.Activity.class)))
        .windowedBy(TimeWindows.ofSizeWithNoGrace(WINDOW_10S))
        .emitStrategy(EmitStrategy.onWindowClose())
        .aggregate(
            State.Seen::new,
            (person, a, seen) -> {
              if (a.name == null) seen.auctions++;
              else seen.name = a.name;
              return seen;
            },
            Materialized.<Long, State.Seen, WindowStore<Bytes, byte[]>>as("new-sellers")
                .withKeySerde(LONG)
                .withValueSerde(JsonSerde.of(State.Seen.class)))
        .toStream()
        .filter((window, seen) -> seen.name != null && seen.auctions > 0)
        .map((window, seen) -> KeyValue.pair(window.key(), Rows.Q8.of(window.key(), seen.name, window.window().start())))
        .to(output, Produced.with(LONG, JsonSerde.of(Rows.Q8.class)));
  }
}
