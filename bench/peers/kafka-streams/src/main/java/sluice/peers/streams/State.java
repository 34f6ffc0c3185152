package sluice.peers.streams;

import java.util.ArrayList;
import java.util.List;
import sluice.peers.Rows;

/**
 * The records that cross repartition topics and the windows' aggregates, as JSON with Jackson
 * (public fields, no-argument constructors): the shapes of Sluice's bench/nexmark/queries.
 */
final class State {
  private State() {}

  /** q5: one auction's count in one 10 s window, on its way to the window's ranking. */
  public static final class AuctionCount {
    public long auction;
    public long count;
    public long start;

    public AuctionCount() {}
  }

  /** q5: the auctions with the highest count so far in one window. */
  public static final class Hottest {
    public long num;
    public List<Long> auctions = new ArrayList<>();

    public Hottest() {}
  }

  /** q7: the bids with the highest price so far in one window. */
  public static final class Highest {
    public long price = -1;
    public List<Rows.Q7> bids = new ArrayList<>();

    public Highest() {}
  }

  /** q8: a registration (name set) or an auction by the person. */
  public static final class Activity {
    public long person;
    public String name;

    public Activity() {}
  }

  /** q8: what a person's window has seen. */
  public static final class Seen {
    public String name;
    public long auctions;

    public Seen() {}
  }
}
