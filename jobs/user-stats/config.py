"""The job's configuration from the environment, read once at start; a bad value stops it with one line naming
the variable (docs/configuration.md, "The user-stats job")."""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional


class ConfigError(Exception):
    """A variable is missing or malformed."""


@dataclass(frozen=True)
class KafkaSecurity:
    """What the job hands the Kafka clients beside the brokers: TLS and SASL/SCRAM, as the services read them."""

    tls: bool
    ca: Optional[str]
    sasl_mechanism: str
    username: str
    password: Optional[str]

    def client_properties(self) -> dict:
        """The Kafka client properties (source and sink alike) these settings mean."""
        properties = {}
        if self.tls:
            properties["security.protocol"] = "SASL_SSL" if self.password is not None else "SSL"
            if self.ca:
                properties["ssl.truststore.type"] = "PEM"
                properties["ssl.truststore.certificates"] = self.ca
        elif self.password is not None:
            properties["security.protocol"] = "SASL_PLAINTEXT"
        if self.password is not None:
            module = "org.apache.flink.kafka.shaded.org.apache.kafka.common.security.scram.ScramLoginModule"
            quote = lambda text: text.replace("\\", "\\\\").replace('"', '\\"')  # noqa: E731
            properties["sasl.mechanism"] = self.sasl_mechanism.upper()
            properties["sasl.jaas.config"] = (
                f'{module} required username="{quote(self.username)}" password="{quote(self.password)}";'
            )
        return properties


@dataclass(frozen=True)
class JobConfig:
    brokers: str
    security: KafkaSecurity
    group_id: str
    out_of_orderness_s: int
    idle_timeout_s: int
    allowed_lateness_s: int
    checkpoint_dir: str
    checkpoint_interval_ms: int
    restore_from: Optional[str]
    parallelism: int
    rest_port: int
    jars: tuple


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if raw == "":
        return default
    if not raw.isdigit() or int(raw) < minimum:
        raise ConfigError(f"{name} must be a whole number >= {minimum}, got {raw!r}")
    return int(raw)


def _secret(env: Mapping[str, str], name: str) -> Optional[str]:
    """NAME, or the content of the file NAME_FILE names; not both."""
    value, path = env.get(name), env.get(f"{name}_FILE")
    if value and path:
        raise ConfigError(f"set {name} or {name}_FILE, not both")
    if value:
        return value
    if not path:
        return None
    try:
        return Path(path).read_text().strip()
    except OSError as error:
        raise ConfigError(f"{name}_FILE names a file that cannot be read: {error}") from error


def _security(env: Mapping[str, str]) -> KafkaSecurity:
    ca = _secret(env, "KAFKA_TLS_CA")
    tls = env.get("KAFKA_TLS") or ("on" if ca else "off")
    if tls not in ("on", "off"):
        raise ConfigError(f"KAFKA_TLS must be on or off, got {tls!r}")
    if tls == "off" and ca:
        raise ConfigError("KAFKA_TLS=off contradicts KAFKA_TLS_CA: unset one")
    mechanism = env.get("KAFKA_SASL_MECHANISM") or "scram-sha-256"
    if mechanism not in ("scram-sha-256", "scram-sha-512"):
        raise ConfigError(f"KAFKA_SASL_MECHANISM must be scram-sha-256 or scram-sha-512, got {mechanism!r}")
    username = env.get("KAFKA_SASL_USERNAME") or ""
    password = _secret(env, "KAFKA_SASL_PASSWORD")
    if username and password is None:
        raise ConfigError("KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE) must be set when KAFKA_SASL_USERNAME is")
    if not username and password is not None:
        raise ConfigError("KAFKA_SASL_USERNAME must be set when KAFKA_SASL_PASSWORD is")
    return KafkaSecurity(tls == "on", ca, mechanism, username, password)


def load_config(env: Mapping[str, str] = os.environ) -> JobConfig:
    brokers = ",".join(b.strip() for b in env.get("KAFKA_BROKERS", "").split(",") if b.strip())
    if not brokers:
        raise ConfigError("KAFKA_BROKERS must name the brokers (host:port, comma-separated): the job reads Kafka")
    checkpoint_dir = env.get("STATS_CHECKPOINT_DIR", "").strip()
    if not checkpoint_dir:
        raise ConfigError("STATS_CHECKPOINT_DIR must name the directory the job keeps its checkpoints in")
    restore_from = env.get("STATS_RESTORE_FROM", "").strip() or None
    if restore_from and not Path(restore_from, "_metadata").is_file():
        raise ConfigError(f"STATS_RESTORE_FROM must be a completed checkpoint (a chk-N with _metadata): {restore_from}")
    jars = tuple(path for path in env.get("STATS_FLINK_JARS", "").split(os.pathsep) if path)
    if not jars:
        raise ConfigError("STATS_FLINK_JARS must list the Kafka connector's jars (npm run job:user-stats sets it)")
    return JobConfig(
        brokers=brokers,
        security=_security(env),
        group_id=env.get("STATS_GROUP_ID") or "charter-user-stats",
        out_of_orderness_s=_int(env, "STATS_OUT_OF_ORDERNESS_S", 5, 0),
        idle_timeout_s=_int(env, "STATS_IDLE_TIMEOUT_S", 30, 1),
        allowed_lateness_s=_int(env, "STATS_ALLOWED_LATENESS_S", 60, 0),
        checkpoint_dir=str(Path(checkpoint_dir).resolve()),
        checkpoint_interval_ms=_int(env, "STATS_CHECKPOINT_INTERVAL_MS", 10_000, 100),
        restore_from=str(Path(restore_from).resolve()) if restore_from else None,
        parallelism=_int(env, "STATS_PARALLELISM", 1, 1),
        rest_port=_int(env, "STATS_FLINK_REST_PORT", 0, 0),
        jars=jars,
    )
