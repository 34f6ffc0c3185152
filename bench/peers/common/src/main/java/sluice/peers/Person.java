package sluice.peers;

/** A registration (bench/nexmark/model.ts); public fields and a no-argument constructor make it a POJO for Jackson and Flink. */
public final class Person {
  public long id;
  public String name;
  public String emailAddress;
  public String creditCard;
  public String city;
  public String state;
  public long dateTime;
  public String extra;

  public Person() {}
}
