"""The per-minute stats: one-minute tumbling event-time windows with an allowed lateness, the live-users running
total and the count of events too late to count, all in one keyed operator's checkpointed state.

The windows follow Flink's own event-time window semantics (EventTimeTrigger with allowed lateness): a window
[start, start + 60 s) fires once the watermark reaches its last millisecond; an event for a window that has fired
but is within the allowed lateness adds to it and fires it again at once (same key, updated counts); the window's
state is dropped when the watermark passes its end plus the lateness, and an event for it after that is late: it
is counted (lateEvents), sent to the late side output, and added to no window. They are written as a process
function, not with `window()`, because every record also carries two figures that span windows — the live users
and the late count — and these must move in the same state, and in the same checkpoint, as the windows they go with.
"""

import json
import pickle
from datetime import datetime, timezone

from pyflink.common import Row, Types
from pyflink.datastream import KeyedProcessFunction, OutputTag
from pyflink.datastream.state import MapStateDescriptor, ValueStateDescriptor

from contract import CREATED, DELETED, UPDATED

WINDOW_MS = 60_000
LATE_EVENTS = OutputTag("late-events", Types.ROW_NAMED(["type", "occurredAt"], [Types.STRING(), Types.STRING()]))
STATS_ROW = Types.ROW_NAMED(["windowStart", "value", "windowEnd"], [Types.STRING(), Types.STRING(), Types.STRING()])
_INDEX = {CREATED: 0, UPDATED: 1, DELETED: 2}


def rfc3339(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{epoch_ms % 1000:03d}Z" if epoch_ms % 1000 else f"{text}Z"


class UserStatsWindows(KeyedProcessFunction):
    """Input: rows (type, occurredAtMs) with their event timestamps, all under one key. Output: STATS_ROW rows."""

    def __init__(self, allowed_lateness_ms: int):
        self.lateness = allowed_lateness_ms

    def open(self, runtime_context):
        # window start (ms) -> pickled [created, updated, deleted] of the windows not yet past their lateness
        self.windows = runtime_context.get_map_state(
            MapStateDescriptor("windows", Types.LONG(), Types.PICKLED_BYTE_ARRAY())
        )
        # created minus deleted of every window already dropped from `windows`
        self.dropped_net = runtime_context.get_state(ValueStateDescriptor("dropped-net", Types.LONG()))
        self.late = runtime_context.get_state(ValueStateDescriptor("late-events", Types.LONG()))
        # The highest watermark seen, kept in the checkpoints: Flink's watermark starts again from nothing after a
        # restore, and the events replayed from the checkpoint's offsets must be judged late or on time as the
        # first run judged them, not against that empty watermark.
        self.watermark = runtime_context.get_state(ValueStateDescriptor("watermark", Types.LONG()))
        self.late_counter = runtime_context.get_metrics_group().counter("lateEvents")

    def process_element(self, value, ctx):
        timestamp = ctx.timestamp()
        watermark = self._watermark(ctx.timer_service().current_watermark())
        start = timestamp - timestamp % WINDOW_MS
        last_ms = start + WINDOW_MS - 1
        if last_ms + self.lateness <= watermark:
            self.late.update((self.late.value() or 0) + 1)
            self.late_counter.inc()
            yield LATE_EVENTS, Row(value[0], rfc3339(timestamp))
            return
        counts = self._counts(start)
        counts[_INDEX[value[0]]] += 1
        self.windows.put(start, pickle.dumps(counts))
        # Registering a timer twice keeps one; the drop timer is what ends the window's state.
        ctx.timer_service().register_event_time_timer(last_ms + self.lateness)
        if last_ms <= watermark:
            yield self._record(start)  # a late firing within the allowed lateness
        else:
            ctx.timer_service().register_event_time_timer(last_ms)

    def on_timer(self, timestamp, ctx):
        self._watermark(timestamp)
        fired = timestamp + 1 - WINDOW_MS
        if self.windows.contains(fired):
            yield self._record(fired)
        dropped = timestamp + 1 - WINDOW_MS - self.lateness
        if self.windows.contains(dropped):
            created, _, deleted = self._counts(dropped)
            self.dropped_net.update((self.dropped_net.value() or 0) + created - deleted)
            self.windows.remove(dropped)

    def _watermark(self, current):
        """The higher of `current` and the watermark kept in state, which it raises."""
        kept = self.watermark.value()
        if kept is not None and kept >= current:
            return kept
        self.watermark.update(current)
        return current

    def _counts(self, start):
        stored = self.windows.get(start)
        return pickle.loads(stored) if stored is not None else [0, 0, 0]

    def _record(self, start):
        created, updated, deleted = self._counts(start)
        live = self.dropped_net.value() or 0
        for other, stored in self.windows.items():
            if other <= start:
                counts = pickle.loads(stored)
                live += counts[0] - counts[2]
        window_start, window_end = rfc3339(start), rfc3339(start + WINDOW_MS)
        value = {
            "windowStart": window_start,
            "windowEnd": window_end,
            "created": created,
            "updated": updated,
            "deleted": deleted,
            "liveUsers": live,
            "lateEvents": self.late.value() or 0,
        }
        return Row(window_start, json.dumps(value, separators=(",", ":")), window_end)
