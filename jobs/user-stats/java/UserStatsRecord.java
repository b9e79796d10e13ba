package charter.jobs;

import java.nio.charset.StandardCharsets;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.connector.kafka.sink.HeaderProvider;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.kafka.shaded.org.apache.kafka.common.header.Headers;
import org.apache.flink.kafka.shaded.org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.flink.types.Row;

/**
 * The Kafka record of one stats row: key, JSON value and CloudEvents headers. PyFlink's record serializer builder
 * serializes the whole element as key and as value and has no header provider, so the job hands rows of
 * (windowStart, value JSON, windowEnd) to this serializer, built with the connector's own builder.
 */
public final class UserStatsRecord {
  private UserStatsRecord() {}

  /** The record serializer for `topic`: key = row field 0, value = field 1, ce_* headers from fields 0 and 2. */
  public static KafkaRecordSerializationSchema<Row> serializer(String topic) {
    return KafkaRecordSerializationSchema.<Row>builder()
        .setTopic(topic)
        .setKeySerializationSchema(new Field(0))
        .setValueSerializationSchema(new Field(1))
        .setHeaderProvider(new CloudEventHeaders())
        .build();
  }

  /** One string field of the row, UTF-8. */
  static final class Field implements SerializationSchema<Row> {
    private static final long serialVersionUID = 1L;
    private final int index;

    Field(int index) {
      this.index = index;
    }

    @Override
    public byte[] serialize(Row row) {
      return String.valueOf(row.getField(index)).getBytes(StandardCharsets.UTF_8);
    }
  }

  /** CloudEvents binary-mode headers of a stats record. */
  static final class CloudEventHeaders implements HeaderProvider<Row> {
    private static final long serialVersionUID = 1L;

    @Override
    public Headers getHeaders(Row row) {
      RecordHeaders headers = new RecordHeaders();
      headers.add("ce_specversion", bytes("1.0"));
      headers.add("ce_id", bytes("user-stats-" + row.getField(0)));
      headers.add("ce_type", bytes("charter.users.v1.UserStats"));
      headers.add("ce_source", bytes("/charter/jobs/user-stats"));
      headers.add("ce_time", bytes(String.valueOf(row.getField(2))));
      headers.add("content-type", bytes("application/json"));
      return headers;
    }

    private static byte[] bytes(String value) {
      return value.getBytes(StandardCharsets.UTF_8);
    }
  }
}
