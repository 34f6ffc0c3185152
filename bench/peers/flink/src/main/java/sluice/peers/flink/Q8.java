package sluice.peers.flink;

import java.time.Duration;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.functions.FilterFunction;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.Collector;
import sluice.peers.Event;
import sluice.peers.Rows;

/**
 * q8, monitor new users, as bench/nexmark/queries/q8.ts: registrations (by person id) and
 * auctions (by seller) as one stream keyed by person, a 10 s tumbling window per person; a
 * person with a registration and at least one auction in the window comes out once.
 */
final class Q8 {
  static final Duration SIZE = Duration.ofSeconds(10);

  private Q8() {}

  static DataStream<Rows.Q8> build(DataStream<Event> events) {
    return events.filter(new PersonOrAuction())
        .name("persons-and-auctions")
        .map(new ActivityOf())
        .name("activity")
        .keyBy(new PersonKey())
        .window(TumblingEventTimeWindows.of(SIZE))
        .aggregate(new Collect(), new NewSellers())
        .name("new-sellers");
  }

  /** A registration (name set) or an auction by the person. */
  public static final class Activity {
    public long person;
    public String name;

    public Activity() {}
  }

  /** What a person's window has seen. */
  public static final class Seen {
    public String name;
    public long auctions;

    public Seen() {}
  }

  static final class PersonOrAuction implements FilterFunction<Event> {
    @Override
    public boolean filter(Event e) {
      return e.bid == null;
    }
  }

  static final class ActivityOf implements MapFunction<Event, Activity> {
    @Override
    public Activity map(Event e) {
      Activity a = new Activity();
      if (e.person != null) {
        a.person = e.person.id;
        a.name = e.person.name;
      } else {
        a.person = e.auction.seller;
      }
      return a;
    }
  }

  static final class PersonKey implements KeySelector<Activity, Long> {
    @Override
    public Long getKey(Activity a) {
      return a.person;
    }
  }

  static final class Collect implements AggregateFunction<Activity, Seen, Seen> {
    @Override
    public Seen createAccumulator() {
      return new Seen();
    }

    @Override
    public Seen add(Activity a, Seen seen) {
      if (a.name == null) seen.auctions++;
      else seen.name = a.name;
      return seen;
    }

    @Override
    public Seen getResult(Seen seen) {
      return seen;
    }

    @Override
    public Seen merge(Seen a, Seen b) {
      throw new UnsupportedOperationException("tumbling windows do not merge");
    }
  }

  static final class NewSellers extends ProcessWindowFunction<Seen, Rows.Q8, Long, TimeWindow> {
    @Override
    public void process(Long person, Context context, Iterable<Seen> results, Collector<Rows.Q8> out) {
      Seen seen = results.iterator().next();
      if (seen.name != null && seen.auctions > 0) out.collect(Rows.Q8.of(person, seen.name, context.window().getStart()));
    }
  }
}
