"""The report's figures over the history, in Spark. Definitions: docs/report.md (each edge case stated there).

Times are the events' `occurredAt`, as microseconds since the epoch (exact integers); days are UTC days; "the end
of the data" is the latest `occurredAt` in the history, so a report depends on its input alone.
"""

from pyspark.sql import functions as F

from contract_check import CREATED, DELETED, UPDATED

MICROS = 1_000_000
DAY_US = 86_400 * MICROS
DELETION_WINDOW_DAYS = 30

# The time-to-first-update chart's buckets: (upper bound in seconds, exclusive; label). The last is open.
DELAY_BUCKETS = [
    (60, "< 1 min"),
    (3_600, "1 min – 1 h"),
    (6 * 3_600, "1 – 6 h"),
    (86_400, "6 – 24 h"),
    (7 * 86_400, "1 – 7 days"),
    (30 * 86_400, "7 – 30 days"),
    (None, "≥ 30 days"),
]


def events_of(raw):
    """The columns the figures need, one row per event id (a repeated event counts once)."""
    return (
        raw.select(
            "eventId",
            "type",
            "userId",
            F.col("version").cast("long").alias("version"),
            F.col("occurredAt").cast("timestamp").alias("occurredAt"),
        )
        .dropDuplicates(["eventId"])
        .withColumn("atUs", F.unix_micros("occurredAt"))
    )


def users_of(events):
    """One row per user: its events, its creation, its first update (lowest version) and its deletion, in µs."""
    is_type = lambda name: F.col("type") == name  # noqa: E731
    first_update = F.min(F.when(is_type(UPDATED), F.struct("version", "atUs")))
    return events.groupBy("userId").agg(
        F.count("*").alias("events"),
        F.min(F.when(is_type(CREATED), F.col("atUs"))).alias("createdUs"),
        first_update.getField("atUs").alias("firstUpdateUs"),
        F.min(F.when(is_type(DELETED), F.col("atUs"))).alias("deletedUs"),
    )


def _ts(column):
    return F.timestamp_micros(F.col(column))


def created_per_day(users, first_day, last_day):
    """Users created on each UTC day from the first event's day to the last's, days without one included (0)."""
    days = users.sparkSession.range(1).select(
        F.explode(F.sequence(F.lit(first_day), F.lit(last_day))).alias("day")
    )
    counts = (
        users.where(F.col("createdUs").isNotNull())
        .groupBy(F.to_date(_ts("createdUs")).alias("day"))
        .agg(F.count("*").alias("created"))
    )
    return (
        days.join(counts, "day", "left")
        .select("day", F.coalesce(F.col("created"), F.lit(0)).cast("long").alias("created"))
        .orderBy("day")
    )


def time_to_first_update(users):
    """Per user created and updated in the data: the time from its creation to its first update."""
    delay = F.col("firstUpdateUs") - F.col("createdUs")
    return users.where(F.col("createdUs").isNotNull() & F.col("firstUpdateUs").isNotNull()).select(
        "userId",
        _ts("createdUs").alias("createdAt"),
        _ts("firstUpdateUs").alias("firstUpdateAt"),
        delay.alias("delayUs"),
        (delay / F.lit(MICROS)).alias("seconds"),
    )


def delay_bucket(seconds_column):
    """The index of a delay's bucket in DELAY_BUCKETS."""
    expression = F.lit(len(DELAY_BUCKETS) - 1)
    for index in reversed(range(len(DELAY_BUCKETS) - 1)):
        bound = DELAY_BUCKETS[index][0]
        expression = F.when(F.col(seconds_column) < F.lit(bound), F.lit(index)).otherwise(expression)
    return expression


def deletion_cohort(users, cutoff_us):
    """Per user created at or before the cutoff (30 days before the end of the data): deleted within 30 days?"""
    window_us = DELETION_WINDOW_DAYS * DAY_US
    deleted = F.col("deletedUs").isNotNull()
    within = deleted & ((F.col("deletedUs") - F.col("createdUs")) <= F.lit(window_us))
    return users.where(F.col("createdUs").isNotNull() & (F.col("createdUs") <= F.lit(cutoff_us))).select(
        "userId",
        _ts("createdUs").alias("createdAt"),
        _ts("deletedUs").alias("deletedAt"),
        ((F.col("deletedUs") - F.col("createdUs")) / F.lit(DAY_US)).alias("daysToDeletion"),
        within.alias("deletedWithin30Days"),
        F.when(within, F.lit("within 30 days"))
        .when(deleted, F.lit("after 30 days"))
        .otherwise(F.lit("not deleted"))
        .alias("outcome"),
    )


def exact_median(frame, column):
    """The exact median: Spark's percentile(x, 0.5), the middle value, or the mean of the two middle values."""
    return frame.agg(F.percentile(F.col(column), F.lit(0.5))).first()[0]
