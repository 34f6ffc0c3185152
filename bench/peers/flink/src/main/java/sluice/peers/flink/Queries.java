package sluice.peers.flink;

import org.apache.flink.api.common.functions.FilterFunction;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import sluice.peers.Bid;
import sluice.peers.Event;
import sluice.peers.Json;
import sluice.peers.Row;
import sluice.peers.Rows;

/**
 * The queries as DataStream programs, each the plan of Sluice's bench/nexmark/queries/qN.ts
 * (same windows, same grouping, same rows), ending in {@link CountRows}. The stateless ones
 * are here; q5, q7 and q8 have files of their own.
 */
final class Queries {
  private Queries() {}

  static void build(String query, DataStream<Event> events) {
    DataStream<Bid> bids = events.filter(new IsBid()).name("bids").map(new BidOf()).name("bid");
    DataStream<? extends Row> rows =
        switch (query) {
          case "q0" -> bids;
          case "q1" -> bids.map(new Q1()).name("q1");
          case "q2" -> bids.filter(new Q2Filter()).name("q2-filter").map(new Q2()).name("q2");
          case "q5" -> Q5.build(bids);
          case "q7" -> Q7.build(bids);
          case "q8" -> Q8.build(events);
          default -> throw new IllegalArgumentException("no Flink version of " + query + " (q0, q1, q2, q5, q7, q8)");
        };
    sink(rows);
  }

  private static <T extends Row> void sink(DataStream<T> rows) {
    rows.process(new CountRows<T>()).name("count-rows").sinkTo(new DiscardingSink<>()).name("discard");
  }

  static final class Parse implements MapFunction<String, Event> {
    @Override
    public Event map(String line) {
      return Json.event(line);
    }
  }

  static final class IsBid implements FilterFunction<Event> {
    @Override
    public boolean filter(Event e) {
      return e.bid != null;
    }
  }

  static final class BidOf implements MapFunction<Event, Bid> {
    @Override
    public Bid map(Event e) {
      return e.bid;
    }
  }

  static final class Q1 implements MapFunction<Bid, Rows.Q1> {
    @Override
    public Rows.Q1 map(Bid b) {
      return Rows.Q1.of(b);
    }
  }

  /** Every 123rd auction, as bench/nexmark/queries/q2.ts. */
  static final class Q2Filter implements FilterFunction<Bid> {
    @Override
    public boolean filter(Bid b) {
      return b.auction % 123 == 0;
    }
  }

  static final class Q2 implements MapFunction<Bid, Rows.Q2> {
    @Override
    public Rows.Q2 map(Bid b) {
      return Rows.Q2.of(b);
    }
  }
}
