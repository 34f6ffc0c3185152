package sluice.peers;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.ObjectWriter;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * JSON in and out, with Jackson's databind: an event line becomes an {@link Event} object tree
 * (as Sluice's JSON.parse does), and a result row becomes JSON bytes (as Sluice encodes each
 * output record). Readers and writers are thread-safe and reused.
 */
public final class Json {
  public static final ObjectMapper MAPPER = new ObjectMapper();
  private static final ObjectReader EVENT = MAPPER.readerFor(Event.class);
  private static final ObjectWriter WRITER = MAPPER.writer();

  private Json() {}

  public static Event event(byte[] line) {
    try {
      return EVENT.readValue(line);
    } catch (IOException e) {
      throw new UncheckedIOException("not a Nexmark event: " + new String(line, java.nio.charset.StandardCharsets.UTF_8), e);
    }
  }

  public static Event event(String line) {
    try {
      return EVENT.readValue(line);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException("not a Nexmark event: " + line, e);
    }
  }

  public static <T> T read(byte[] bytes, Class<T> type) {
    try {
      return MAPPER.readValue(bytes, type);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static byte[] bytes(Object value) {
    try {
      return WRITER.writeValueAsBytes(value);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static String string(Object value) {
    try {
      return WRITER.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }
}
