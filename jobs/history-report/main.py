"""The history report: a PySpark batch job over an export of the audit service's history.

    python main.py --input history.ndjson --out report/ [--contract contracts/asyncapi/users-events.yaml]

Reads one contract-JSON UserEvent per line (`npm run history:export`), checks every line against the contract's
schema, and writes into --out: one Parquet dataset per figure, summary.json (the figures) and report.md with its
PNG plots. `npm run report` (scripts/report.ts) provisions Spark and runs it; definitions in docs/report.md.
Spark runs in local mode on loopback only (driver host and bind address 127.0.0.1, no UI).
"""

import argparse
import json
import os
import sys
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CONTRACT = os.path.join(HERE, "..", "..", "contracts", "asyncapi", "users-events.yaml")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class InputError(Exception):
    """The input is not a history this job can report on; the message says why."""


def iso(micros):
    """An instant (µs since the epoch) in RFC 3339, UTC, with milliseconds (or microseconds when it has them)."""
    moment = EPOCH + timedelta(microseconds=micros)
    fraction = f".{moment.microsecond // 1000:03d}" if moment.microsecond % 1000 == 0 else f".{moment.microsecond:06d}"
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def utc_day(micros):
    return (EPOCH + timedelta(microseconds=micros)).date()


def spark_session(partitions):
    from pyspark.sql import SparkSession

    # The job's Python workers run this interpreter (the virtualenv's), not whatever `python` is on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    log_config = os.path.join(HERE, "log4j2.properties")
    # A local job over an export: a quick start matters more than peak speed. The JIT's first tier alone and the
    # serial collector leave the two cores to the tasks (a third less wall time here on a busy two-core machine);
    # over a history of many millions of events the full JIT would pay off, and this is the line to change.
    jvm_flags = f"-Dlog4j2.configurationFile=file:{log_config} -XX:+UseSerialGC -XX:TieredStopAtLevel=1"
    return (
        SparkSession.builder.appName("charter-history-report")
        .master(f"local[{os.environ.get('HISTORY_REPORT_CORES', '2')}]")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(partitions))
        # Parquet timestamps as the standard microsecond type, which every reader knows (Spark's default is INT96).
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.default.parallelism", str(partitions))
        .config("spark.driver.extraJavaOptions", jvm_flags)
        .getOrCreate()
    )


def checked_lines(spark, path, schema):
    """Counts the input's lines, failing with the first few that are not UserEvents by the contract."""
    from contract_check import problems_in

    # The workers unpickle problems_in by its module: ship the module to them.
    spark.sparkContext.addPyFile(os.path.join(HERE, "contract_check.py"))
    lines = spark.read.text(path).rdd.map(lambda row: row.value).zipWithIndex()
    checked = lines.mapPartitions(lambda part: problems_in(part, schema)).cache()
    tally = checked.map(lambda pair: pair[1] is None).countByValue()
    bad = tally.get(False, 0)
    if bad:
        first = checked.filter(lambda pair: pair[1] is not None).takeOrdered(5)
        shown = "; ".join(f"line {number}: {why}" for number, why in first)
        raise InputError(f"{bad} line(s) of {path} are not UserEvents by the contract: {shown}")
    good = tally.get(True, 0)
    if good == 0:
        raise InputError(f"{path} holds no events: there is nothing to report")
    checked.unpersist()
    return good


def write_dataset(frame, out_dir, name):
    frame.coalesce(1).write.mode("overwrite").parquet(os.path.join(out_dir, name))


def report(spark, input_path, out_dir, schema):
    from pyspark.sql import functions as F

    import figures as fig
    import render

    line_count = checked_lines(spark, input_path, schema)
    events = fig.events_of(spark.read.json(input_path, mode="FAILFAST")).cache()
    users = fig.users_of(events).cache()

    bounds = events.agg(F.min("atUs"), F.max("atUs"), F.count("*")).first()
    start_us, end_us, event_count = bounds[0], bounds[1], bounds[2]
    first_day, last_day = utc_day(start_us), utc_day(end_us)
    day_count = (last_day - first_day).days + 1

    # Users created per day.
    per_day_frame = fig.created_per_day(users, first_day, last_day).cache()
    days = [{"day": row["day"].isoformat(), "created": row["created"]} for row in per_day_frame.collect()]
    total_created = sum(day["created"] for day in days)
    busiest = max(days, key=lambda day: day["created"]) if total_created else None

    # Time from creation to first update.
    delays = fig.time_to_first_update(users).cache()
    median_us = fig.exact_median(delays, "delayUs")
    bucket_counts = dict(
        delays.groupBy(fig.delay_bucket("seconds").alias("bucket")).count().rdd.map(tuple).collect()
    )
    users_created = users.where(F.col("createdUs").isNotNull()).count()
    users_updated = sum(bucket_counts.values())

    # Deleted within 30 days.
    cutoff_us = end_us - fig.DELETION_WINDOW_DAYS * fig.DAY_US
    cohort = fig.deletion_cohort(users, cutoff_us).cache()
    outcomes = dict(cohort.groupBy("outcome").count().rdd.map(tuple).collect())
    eligible = sum(outcomes.values())
    within = outcomes.get("within 30 days", 0)

    # Events per user.
    histogram = [
        {"events": row[0], "users": row[1]}
        for row in users.groupBy("events").count().orderBy("events").collect()
    ]
    user_count = sum(bucket["users"] for bucket in histogram)
    per_user_median = fig.exact_median(users, "events")

    datasets = {
        "created_per_day": (per_day_frame, len(days), "users created on each UTC day (`day`, `created`)"),
        "time_to_first_update": (
            delays,
            users_updated,
            "per user created and updated: `createdAt`, `firstUpdateAt`, `delayUs`, `seconds`",
        ),
        "deleted_within_30_days": (
            cohort,
            eligible,
            "per user created ≥ 30 days before the end: `createdAt`, `deletedAt`, `daysToDeletion`, "
            "`deletedWithin30Days`, `outcome`",
        ),
        "events_per_user": (users.select("userId", "events"), user_count, "per user: `events`"),
    }
    for name, (frame, _, _) in datasets.items():
        write_dataset(frame, out_dir, name)

    summary = {
        "madeAt": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "input": {
            "path": os.path.abspath(input_path),
            "lines": line_count,
            "events": event_count,
            "duplicates": line_count - event_count,
        },
        "period": {
            "start": iso(start_us),
            "end": iso(end_us),
            "firstDay": first_day.isoformat(),
            "lastDay": last_day.isoformat(),
            "days": day_count,
        },
        "createdPerDay": {
            "total": total_created,
            "meanPerDay": total_created / day_count,
            "busiest": busiest,
            "days": days,
        },
        "timeToFirstUpdate": {
            "usersCreated": users_created,
            "usersUpdated": users_updated,
            "usersNeverUpdated": users_created - users_updated,
            "medianMicros": median_us,
            "medianSeconds": None if median_us is None else median_us / fig.MICROS,
            "buckets": [
                {"label": label, "upToSeconds": bound, "users": bucket_counts.get(index, 0)}
                for index, (bound, label) in enumerate(fig.DELAY_BUCKETS)
            ],
        },
        "deletedWithin30Days": {
            "windowDays": fig.DELETION_WINDOW_DAYS,
            "cutoff": iso(cutoff_us),
            "eligibleUsers": eligible,
            "deletedWithin30Days": within,
            "deletedAfter30Days": outcomes.get("after 30 days", 0),
            "notDeleted": outcomes.get("not deleted", 0),
            "share": within / eligible if eligible else None,
        },
        "eventsPerUser": {
            "users": user_count,
            "events": event_count,
            "mean": event_count / user_count,
            "median": per_user_median,
            "max": histogram[-1]["events"],
            "histogram": histogram,
        },
        "datasets": {name: {"rows": rows, "what": what} for name, (_, rows, what) in datasets.items()},
    }
    summary["plots"] = {
        "createdPerDay": render.plot_created_per_day(days, out_dir),
        "timeToFirstUpdate": render.plot_time_to_first_update(summary["timeToFirstUpdate"], out_dir),
        "deletedWithin30Days": render.plot_deleted_within_30_days(summary["deletedWithin30Days"], out_dir),
        "eventsPerUser": render.plot_events_per_user(summary["eventsPerUser"], out_dir),
    }
    with open(os.path.join(out_dir, "summary.json"), "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    render.write_markdown(summary, summary["plots"], out_dir)
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(prog="history-report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", required=True, help="NDJSON, one contract-JSON UserEvent per line")
    parser.add_argument("--out", required=True, help="the output directory (created when missing)")
    parser.add_argument("--contract", default=DEFAULT_CONTRACT, help="the AsyncAPI document of the user events")
    parser.add_argument("--partitions", type=int, default=4, help="Spark's shuffle partitions (default 4)")
    args = parser.parse_args(argv)

    from contract_check import ContractError, load_event_schema

    try:
        if not os.path.isfile(args.input):
            raise InputError(f"{args.input} is not a file")
        schema = load_event_schema(args.contract)
        os.makedirs(args.out, exist_ok=True)
    except (InputError, ContractError, OSError) as error:
        print(f"history-report: {error}", file=sys.stderr)
        return 2
    spark = spark_session(args.partitions)
    try:
        summary = report(spark, os.path.abspath(args.input), os.path.abspath(args.out), schema)
    except InputError as error:
        print(f"history-report: {error}", file=sys.stderr)
        return 2
    finally:
        spark.stop()
    print(
        f"history-report: {summary['input']['events']} events of {summary['eventsPerUser']['users']} users → "
        f"{os.path.join(os.path.abspath(args.out), 'report.md')}"
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    sys.exit(main())
