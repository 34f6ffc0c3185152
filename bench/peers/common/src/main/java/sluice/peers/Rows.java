package sluice.peers;

import java.util.Objects;

/**
 * The result rows of the queries, with the fields (and JSON names) of Sluice's rows
 * (bench/nexmark/queries/qN.ts). q0's row is the {@link Bid} itself.
 */
public final class Rows {
  private Rows() {}

  /** q1: the bid with its price in euros. */
  public static final class Q1 implements Row {
    public long auction;
    public long bidder;
    public double price;
    public long dateTime;
    public String extra;

    public Q1() {}

    public static Q1 of(Bid b) {
      Q1 r = new Q1();
      r.auction = b.auction;
      r.bidder = b.bidder;
      r.price = 0.908 * b.price;
      r.dateTime = b.dateTime;
      r.extra = b.extra;
      return r;
    }

    @Override
    public int hash() {
      int h = Row.mix(Row.SEED, auction);
      h = Row.mix(h, bidder);
      h = Row.mix(h, (long) Math.floor(price * 100));
      h = Row.mix(h, dateTime);
      return Row.mix(h, extra.length());
    }
  }

  /** q2: auction and price of a selected bid. */
  public static final class Q2 implements Row {
    public long auction;
    public long price;

    public Q2() {}

    public static Q2 of(Bid b) {
      Q2 r = new Q2();
      r.auction = b.auction;
      r.price = b.price;
      return r;
    }

    @Override
    public int hash() {
      return Row.mix(Row.mix(Row.SEED, auction), price);
    }
  }

  /** q5: an auction with the most bids of a window, and the window. */
  public static final class Q5 implements Row {
    public long auction;
    public long num;
    public long starttime;
    public long endtime;

    public Q5() {}

    public static Q5 of(long auction, long num, long starttime, long endtime) {
      Q5 r = new Q5();
      r.auction = auction;
      r.num = num;
      r.starttime = starttime;
      r.endtime = endtime;
      return r;
    }

    @Override
    public int hash() {
      int h = Row.mix(Row.SEED, auction);
      h = Row.mix(h, num);
      h = Row.mix(h, starttime);
      return Row.mix(h, endtime);
    }
  }

  /** q7: a bid with its window's highest price (the fields Sluice's q7 keeps). */
  public static final class Q7 implements Row {
    public long auction;
    public long bidder;
    public long price;
    public long dateTime;
    public String extra;

    public Q7() {}

    public static Q7 of(Bid b) {
      Q7 r = new Q7();
      r.auction = b.auction;
      r.bidder = b.bidder;
      r.price = b.price;
      r.dateTime = b.dateTime;
      r.extra = b.extra;
      return r;
    }

    @Override
    public int hash() {
      int h = Row.mix(Row.SEED, auction);
      h = Row.mix(h, bidder);
      h = Row.mix(h, price);
      h = Row.mix(h, dateTime);
      return Row.mix(h, extra.length());
    }
  }

  /** q8: a person who registered and opened an auction in the same window. */
  public static final class Q8 implements Row {
    public long id;
    public String name;
    public long starttime;

    public Q8() {}

    public static Q8 of(long id, String name, long starttime) {
      Q8 r = new Q8();
      r.id = id;
      r.name = Objects.requireNonNull(name);
      r.starttime = starttime;
      return r;
    }

    @Override
    public int hash() {
      return Row.mix(Row.mix(Row.mix(Row.SEED, id), name.length()), starttime);
    }
  }
}
