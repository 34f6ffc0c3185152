package sluice.peers.streams;

import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import sluice.peers.Json;

/** JSON values with Jackson, as Sluice's default codec: the events, the repartitioned records, the state, the rows. */
final class JsonSerde {
  private JsonSerde() {}

  static <T> Serde<T> of(Class<T> type) {
    Serializer<T> serializer = (topic, value) -> value == null ? null : Json.bytes(value);
    Deserializer<T> deserializer = (topic, bytes) -> bytes == null ? null : Json.read(bytes, type);
    return Serdes.serdeFrom(serializer, deserializer);
  }
}
