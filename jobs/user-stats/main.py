"""The user-stats streaming job: per-minute counts of created, updated and deleted users and the live users, by
event time, from `charter.users.v1.events` to `charter.users.v1.stats`, exactly once (docs/jobs.md).

Run it with PyFlink's venv python, its bin dir first on PATH (`npm run job:user-stats` does both): it starts a
local Flink mini cluster in a JVM and runs until it is stopped; its checkpoints stay in STATS_CHECKPOINT_DIR.
"""

import os
import sys
from pathlib import Path

from pyflink.common import Configuration, Duration, Row, Types, WatermarkStrategy
from pyflink.common.serialization import SimpleStringSchema
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import OutputTag, ProcessFunction, StreamExecutionEnvironment
from pyflink.datastream.connectors.base import DeliveryGuarantee
from pyflink.datastream.connectors.kafka import (
    KafkaOffsetResetStrategy,
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
)
from pyflink.java_gateway import get_gateway

from config import ConfigError, JobConfig, load_config
from contract import Decoded, decode, load_contract, load_validator
from windows import LATE_EVENTS, STATS_ROW, UserStatsWindows

EVENTS_TOPIC = "charter.users.v1.events"
STATS_TOPIC = "charter.users.v1.stats"
JOB_DIR = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"
# Longer than any checkpoint interval the job is given, below the broker's transaction.max.timeout.ms (15 min).
TRANSACTION_TIMEOUT_MS = 600_000


DECODED_ROW = Types.ROW_NAMED(["type", "occurredAtMs"], [Types.STRING(), Types.LONG()])
SKIPPED_EVENTS = OutputTag("skipped-events", Types.STRING())


class DecodeUserEvent(ProcessFunction):
    """Values that match the contract become (type, occurredAtMs); the others are counted (the invalidEvents metric),
    reported with their reason on the skipped side output, and skipped: a bad message never stops the job."""

    def __init__(self, contract: dict):
        self.contract = contract

    def open(self, runtime_context):
        self.validator = load_validator(self.contract)
        self.invalid = runtime_context.get_metrics_group().counter("invalidEvents")

    def process_element(self, value, ctx):
        decoded = decode(self.validator, value)
        if isinstance(decoded, Decoded):
            yield Row(decoded.type, decoded.occurred_at_ms)
        else:
            self.invalid.inc()
            yield SKIPPED_EVENTS, decoded.reason


class OccurredAt(TimestampAssigner):
    def extract_timestamp(self, value, record_timestamp):
        return value[1]


def flink_configuration(config: JobConfig) -> Configuration:
    settings = {
        "pipeline.name": "charter-user-stats",
        "parallelism.default": str(config.parallelism),
        # Every listener on loopback: the REST endpoint (8081 on every interface by default), RPC, blob server.
        "rest.bind-address": LOOPBACK,
        "rest.address": LOOPBACK,
        "rest.port": str(config.rest_port),
        "jobmanager.bind-host": LOOPBACK,
        "jobmanager.rpc.address": LOOPBACK,
        "taskmanager.bind-host": LOOPBACK,
        "taskmanager.host": LOOPBACK,
        "python.executable": sys.executable,
        "python.execution-mode": "thread",
        "execution.checkpointing.interval": f"{config.checkpoint_interval_ms} ms",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "execution.checkpointing.storage": "filesystem",
        "execution.checkpointing.dir": Path(config.checkpoint_dir).as_uri(),
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "state.backend.type": "hashmap",
    }
    if config.restore_from:
        settings["execution.state-recovery.path"] = Path(config.restore_from).as_uri()
    configuration = Configuration()
    for key, value in settings.items():
        configuration.set_string(key, value)
    return configuration


def build(env: StreamExecutionEnvironment, config: JobConfig) -> None:
    client = config.security.client_properties()
    source_builder = (
        KafkaSource.builder()
        .set_bootstrap_servers(config.brokers)
        .set_topics(EVENTS_TOPIC)
        .set_group_id(config.group_id)
        # A restored job resumes from its checkpoint's offsets; a first start from the group's, else the earliest.
        .set_starting_offsets(KafkaOffsetsInitializer.committed_offsets(KafkaOffsetResetStrategy.EARLIEST))
        .set_value_only_deserializer(SimpleStringSchema())
    )
    for key, value in client.items():
        source_builder.set_property(key, value)
    events = env.from_source(source_builder.build(), WatermarkStrategy.no_watermarks(), "user events")

    watermarks = (
        WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(config.out_of_orderness_s))
        .with_idleness(Duration.of_seconds(config.idle_timeout_s))
        .with_timestamp_assigner(OccurredAt())
    )
    decoded = events.process(DecodeUserEvent(load_contract()), output_type=DECODED_ROW).name("decode by the contract")
    decoded.get_side_output(SKIPPED_EVENTS).print(f"user-stats skipped an event of {EVENTS_TOPIC}").name("skipped")
    stats = (
        decoded.assign_timestamps_and_watermarks(watermarks)
        .key_by(lambda _: 0, key_type=Types.INT())
        .process(UserStatsWindows(config.allowed_lateness_s * 1000), output_type=STATS_ROW)
        .name("per-minute windows")
    )
    stats.get_side_output(LATE_EVENTS).print("user-stats late event").name("late events")

    jvm = get_gateway().jvm
    sink_builder = (
        KafkaSink.builder()
        .set_bootstrap_servers(config.brokers)
        .set_record_serializer(KafkaRecordSerializationSchema(jvm.charter.jobs.UserStatsRecord.serializer(STATS_TOPIC)))
        .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE)
        .set_transactional_id_prefix("charter-user-stats")
        .set_property("transaction.timeout.ms", str(TRANSACTION_TIMEOUT_MS))
    )
    for key, value in client.items():
        sink_builder.set_property(key, value)
    stats.sink_to(sink_builder.build()).name(STATS_TOPIC)


def main() -> None:
    # PyFlink starts a Beam worker pool for "loopback" Python workers in this process, listening on every interface,
    # unless told the workers run otherwise; the job runs its functions in the JVM's embedded interpreter
    # (python.execution-mode: thread), which needs no worker pool and no gRPC servers at all.
    os.environ["_python_worker_execution_mode"] = "process"
    try:
        config = load_config()
    except ConfigError as error:
        print(f"user-stats: {error}", file=sys.stderr)
        sys.exit(2)
    env = StreamExecutionEnvironment.get_execution_environment(flink_configuration(config))
    # add_jars, not pipeline.jars alone: it also puts them on the Python gateway's class loader, which builds the
    # connector's Java objects.
    env.add_jars(*(Path(jar).resolve().as_uri() for jar in config.jars))
    env.add_python_file(str(JOB_DIR))
    print(
        f"user-stats: checkpoints in {config.checkpoint_dir}"
        + (f", restoring {config.restore_from}" if config.restore_from else ""),
        file=sys.stderr,
        flush=True,
    )
    build(env, config)
    try:
        env.execute("charter-user-stats")
    except KeyboardInterrupt:
        # Ctrl-C: the mini cluster goes with this process; the checkpoints stay for the next start.
        print(f"user-stats: stopped; checkpoints kept in {config.checkpoint_dir}", file=sys.stderr, flush=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
