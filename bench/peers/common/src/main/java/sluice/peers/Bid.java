package sluice.peers;

/** A bid (bench/nexmark/model.ts); the price is in cents. */
public final class Bid implements Row {
  public long auction;
  public long bidder;
  public long price;
  public String channel;
  public String url;
  public long dateTime;
  public String extra;

  public Bid() {}

  @Override
  public int hash() {
    int h = Row.SEED;
    h = Row.mix(h, auction);
    h = Row.mix(h, bidder);
    h = Row.mix(h, price);
    h = Row.mix(h, dateTime);
    h = Row.mix(h, channel.length());
    h = Row.mix(h, url.length());
    return Row.mix(h, extra.length());
  }
}
