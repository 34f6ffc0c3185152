package sluice.peers;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * One line of the events file, a tagged union as in bench/nexmark/model.ts: exactly one of
 * the three fields is set ({"person":…}, {"auction":…} or {"bid":…}).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public final class Event {
  public Person person;
  public Auction auction;
  public Bid bid;

  public Event() {}

  /** The event time of any kind (ms since the epoch). */
  public long time() {
    if (bid != null) return bid.dateTime;
    if (auction != null) return auction.dateTime;
    return person.dateTime;
  }
}
