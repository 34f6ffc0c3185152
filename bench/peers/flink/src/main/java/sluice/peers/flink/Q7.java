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
import org.apache.flink.api.common.functions.FlatMapFunction;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.util.Collector;
import sluice.peers.Bid;
import sluice.peers.Rows;

/**
 * q7, highest bid, as bench/nexmark/queries/q7.ts: per 10 s tumbling window over all bids,
 * every bid with the window's highest price. Flink has a non-keyed window (`windowAll`, one
 * task, as Sluice's one constant key); the bids are projected to the row's fields first.
 */
final class Q7 {
  static final Duration SIZE = Duration.ofSeconds(10);

  private Q7() {}

  static DataStream<Rows.Q7> build(DataStream<Bid> bids) {
    return bids.map(new Project())
        .name("project")
        .windowAll(TumblingEventTimeWindows.of(SIZE))
        .aggregate(new Highest())
        .name("highest-bid")
        .flatMap(new Flatten())
        .name("q7");
  }

  /**
   * The bids with the highest price so far in a window. Its type is spelled out: left to the
   * type extractor, the list would be a generic type that Kryo copies at every checkpoint.
   */
  @TypeInfo(Best.Type.class)
  public static final class Best {
    public long price = -1;
    public List<Rows.Q7> bids = new ArrayList<>();

    public Best() {}

    public static final class Type extends TypeInfoFactory<Best> {
      @Override
      public TypeInformation<Best> createTypeInfo(java.lang.reflect.Type t, Map<String, TypeInformation<?>> generics) {
        return Types.POJO(Best.class, Map.of("price", Types.LONG, "bids", Types.LIST(Types.POJO(Rows.Q7.class))));
      }
    }
  }

  static final class Project implements MapFunction<Bid, Rows.Q7> {
    @Override
    public Rows.Q7 map(Bid b) {
      return Rows.Q7.of(b);
    }
  }

  static final class Highest implements AggregateFunction<Rows.Q7, Best, Best> {
    @Override
    public Best createAccumulator() {
      return new Best();
    }

    @Override
    public Best add(Rows.Q7 b, Best best) {
      if (b.price > best.price) {
        best.price = b.price;
        best.bids.clear();
        best.bids.add(b);
      } else if (b.price == best.price) {
        best.bids.add(b);
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

  static final class Flatten implements FlatMapFunction<Best, Rows.Q7> {
    @Override
    public void flatMap(Best best, Collector<Rows.Q7> out) {
      for (Rows.Q7 b : best.bids) out.collect(b);
    }
  }
}
