package sluice.peers;

/**
 * A result row and its checksum hash. Every engine's sink adds up its rows' hashes (an int,
 * wrapping), so two engines that emit the same multiset of rows print the same checksum
 * whatever the order; bench/peers/checksum.ts computes the same numbers for Sluice's rows and
 * the reference's. Only whole numbers are hashed (strings by their length, q1's euro price as
 * floor(price × 100)), which both languages compute bit for bit alike: Java's (int) of a long
 * and JavaScript's `v | 0` both keep the low 32 bits.
 */
public interface Row {
  int SEED = 17;

  static int mix(int h, long v) {
    return h * 31 + (int) v;
  }

  int hash();
}
