package sluice.peers.flink;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.typeinfo.TypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInfoFactory;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.SlidingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.Collector;
import sluice.peers.Bid;
import sluice.peers.Rows;

/**
 * q5, hot items, as bench/nexmark/queries/q5.ts: bids counted per auction in 10 s windows
 * every 2 s; each window's counts re-keyed by the window's start and collected in the 2 s
 * tumbling window their results fall into (a window's results carry its end − 1 as event
 * time, in Flink as in Sluice); every auction with the highest count comes out, ties included.
 */
final class Q5 {
  static final Duration SIZE = Duration.ofSeconds(10);
  static final Duration ADVANCE = Duration.ofSeconds(2);

  private Q5() {}

  static DataStream<Rows.Q5> build(DataStream<Bid> bids) {
    return bids.map(new AuctionOf())
        .name("auction")
        .keyBy(new Identity())
        .window(SlidingEventTimeWindows.of(SIZE, ADVANCE))
        .aggregate(new Count(), new WithWindow())
        .name("bids-per-auction")
        .keyBy(new StartOf())
        .window(TumblingEventTimeWindows.of(ADVANCE))
        .aggregate(new Hottest(), new HottestRows())
        .name("hottest");
  }

  /** A window's count for one auction. */
  public static final class AuctionCount {
    public long auction;
    public long count;
    public long start;

    public AuctionCount() {}
  }

  /** The auctions with the highest count so far in one window (its type spelled out, as q7's: no Kryo). */
  @TypeInfo(Best.Type.class)
  public static final class Best {
    public long num;
    public List<Long> auctions = new ArrayList<>();

    public Best() {}

    public static final class Type extends TypeInfoFactory<Best> {
      @Override
      public TypeInformation<Best> createTypeInfo(java.lang.reflect.Type t, Map<String, TypeInformation<?>> generics) {
        return Types.POJO(Best.class, Map.of("num", Types.LONG, "auctions", Types.LIST(Types.LONG)));
      }
    }
  }

  static final class AuctionOf implements MapFunction<Bid, Long> {
    @Override
    public Long map(Bid b) {
      return b.auction;
    }
  }

  static final class Identity implements KeySelector<Long, Long> {
    @Override
    public Long getKey(Long auction) {
      return auction;
    }
  }

  static final class Count implements AggregateFunction<Long, Long, Long> {
    @Override
    public Long createAccumulator() {
      return 0L;
    }

    @Override
    public Long add(Long auction, Long n) {
      return n + 1;
    }

    @Override
    public Long getResult(Long n) {
      return n;
    }

    @Override
    public Long merge(Long a, Long b) {
      return a + b;
    }
  }

  static final class WithWindow extends ProcessWindowFunction<Long, AuctionCount, Long, TimeWindow> {
    @Override
    public void process(Long auction, Context context, Iterable<Long> counts, Collector<AuctionCount> out) {
      AuctionCount c = new AuctionCount();
      c.auction = auction;
      c.count = counts.iterator().next();
      c.start = context.window().getStart();
      out.collect(c);
    }
  }

  static final class StartOf implements KeySelector<AuctionCount, Long> {
    @Override
    public Long getKey(AuctionCount c) {
      return c.start;
    }
  }

  static final class Hottest implements AggregateFunction<AuctionCount, Best, Best> {
    @Override
    public Best createAccumulator() {
      return new Best();
    }

    @Override
    public Best add(AuctionCount c, Best best) {
      if (c.count > best.num) {
        best.num = c.count;
        best.auctions.clear();
        best.auctions.add(c.auction);
      } else if (c.count == best.num) {
        best.auctions.add(c.auction);
      }
      return best;
    }

    @Override
    public Best getResult(Best best) {
      return best;
    }

    @Override
    public Best merge(Best a, Best b) {
      throw new UnsupportedOperationException("tumbling windows do not merge");
    }
  }

  /** A row per hottest auction of one window (the key is the 10 s window's start). */
  static final class HottestRows extends ProcessWindowFunction<Best, Rows.Q5, Long, TimeWindow> {
    @Override
    public void process(Long start, Context context, Iterable<Best> results, Collector<Rows.Q5> out) {
      Best best = results.iterator().next();
      for (long auction : best.auctions) out.collect(Rows.Q5.of(auction, best.num, start, start + SIZE.toMillis()));
    }
  }
}
