"""The human report: matplotlib PNGs and report.md, from the figures main.py computed (summary.json's content)."""

import os
from datetime import date

import matplotlib

matplotlib.use("Agg")  # files only, never a display

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

INK = "#1f2933"
MUTED = "#7b8794"
BLUE = "#2f6fb2"
LIGHT_BLUE = "#a9c7e8"
ORANGE = "#e07b39"
RED = "#c8553d"
GREY = "#cbd2d9"
GREEN = "#4c956c"

plt.rcParams.update(
    {
        "figure.dpi": 110,
        "savefig.dpi": 110,
        "font.size": 10,
        "axes.titlesize": 13,
        "axes.titleweight": "bold",
        "axes.titlelocation": "left",
        "axes.titlepad": 14,
        "axes.edgecolor": GREY,
        "axes.labelcolor": INK,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "axes.grid.axis": "y",
        "grid.color": "#e4e7eb",
        "grid.linewidth": 0.8,
        "xtick.color": MUTED,
        "ytick.color": MUTED,
        "text.color": INK,
        "legend.frameon": False,
    }
)

thousands = FuncFormatter(lambda value, _: f"{value:,.0f}")


def duration(seconds):
    """A delay as a person would say it: 45 s, 12 min, 3 h 12 min, 2 days 4 h."""
    if seconds is None:
        return "–"
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s < 60:
        return f"{sign}{s:.0f} s"
    if s < 3_600:
        return f"{sign}{s / 60:.0f} min"
    if s < 86_400:
        hours, minutes = divmod(round(s / 60), 60)
        return f"{sign}{hours} h {minutes} min" if minutes else f"{sign}{hours} h"
    days, hours = divmod(round(s / 3_600), 24)
    unit = "day" if days == 1 else "days"
    return f"{sign}{days} {unit} {hours} h" if hours else f"{sign}{days} {unit}"


def percent(share):
    return "–" if share is None else f"{share * 100:.1f} %"


def _subtitle(axes, text):
    axes.text(0, 1.015, text, transform=axes.transAxes, color=MUTED, fontsize=9.5, va="bottom")


def _save(figure, out_dir, name):
    figure.tight_layout()
    figure.savefig(os.path.join(out_dir, name), facecolor="white")
    plt.close(figure)
    return name


def _empty(axes, text):
    axes.text(0.5, 0.5, text, transform=axes.transAxes, ha="center", va="center", color=MUTED, fontsize=12)
    axes.set_xticks([])
    axes.set_yticks([])


def plot_created_per_day(days, out_dir):
    """Bars per UTC day, with the 7-day mean as a line and the busiest day marked."""
    figure, axes = plt.subplots(figsize=(10, 3.8))
    x = [date.fromisoformat(day["day"]) for day in days]
    y = [day["created"] for day in days]
    axes.bar(x, y, width=0.8, color=LIGHT_BLUE, label="created that day", zorder=2)
    if len(y) >= 7:
        rolling = [sum(y[max(0, i - 6) : i + 1]) / len(y[max(0, i - 6) : i + 1]) for i in range(len(y))]
        axes.plot(x, rolling, color=BLUE, linewidth=2.2, label="mean of the last 7 days", zorder=3)
    if y and max(y) > 0:
        peak = y.index(max(y))
        axes.annotate(
            f"{y[peak]:,} on {x[peak]:%d %b}",
            xy=(x[peak], y[peak]),
            xytext=(0, 8),
            textcoords="offset points",
            ha="center",
            color=INK,
            fontsize=9,
        )
        axes.set_ylim(0, max(y) * 1.18)
    axes.set_title("Users created per day")
    _subtitle(axes, f"{sum(y):,} users over {len(y)} UTC days")
    axes.yaxis.set_major_formatter(thousands)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=10))
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    axes.legend(loc="upper left", ncols=2, fontsize=9)
    return _save(figure, out_dir, "created_per_day.png")


def plot_time_to_first_update(summary, out_dir):
    """Users per delay bucket, each bar labelled with its share."""
    figure, axes = plt.subplots(figsize=(10, 3.8))
    buckets = summary["buckets"]
    counts = [bucket["users"] for bucket in buckets]
    total = sum(counts)
    axes.set_title("Time from creation to first update")
    if total == 0:
        _empty(axes, "no user was updated")
        return _save(figure, out_dir, "time_to_first_update.png")
    bars = axes.bar([bucket["label"] for bucket in buckets], counts, color=BLUE, width=0.65, zorder=2)
    for bar, count in zip(bars, counts):
        if count:
            axes.annotate(
                f"{count / total * 100:.0f} %",
                xy=(bar.get_x() + bar.get_width() / 2, count),
                xytext=(0, 4),
                textcoords="offset points",
                ha="center",
                fontsize=9,
                color=INK,
            )
    axes.set_ylim(0, max(counts) * 1.18)
    _subtitle(
        axes,
        f"median {duration(summary['medianSeconds'])} over {summary['usersUpdated']:,} users "
        f"updated at least once ({summary['usersNeverUpdated']:,} never were)",
    )
    axes.set_ylabel("users")
    axes.yaxis.set_major_formatter(thousands)
    axes.grid(axis="x", visible=False)
    return _save(figure, out_dir, "time_to_first_update.png")


def plot_deleted_within_30_days(summary, out_dir):
    """The cohort old enough to tell as one 100 % bar: deleted within 30 days, later, not deleted."""
    figure, axes = plt.subplots(figsize=(10, 2.3))
    eligible = summary["eligibleUsers"]
    axes.set_title("Deleted within 30 days of creation")
    if eligible == 0:
        _empty(axes, "no user was created 30 days before the end of the data")
        return _save(figure, out_dir, "deleted_within_30_days.png")
    parts = [
        ("deleted within 30 days", summary["deletedWithin30Days"], RED),
        ("deleted later", summary["deletedAfter30Days"], ORANGE),
        ("not deleted", summary["notDeleted"], GREY),
    ]
    left = 0
    for label, count, color in parts:
        width = count / eligible
        axes.barh([0], [width], left=left, color=color, height=0.55, label=f"{label}: {count:,}", zorder=2)
        if width >= 0.06:
            text_color = "white" if color != GREY else INK
            axes.text(left + width / 2, 0, f"{width * 100:.1f} %", ha="center", va="center", color=text_color,
                      fontsize=10, fontweight="bold")
        left += width
    axes.set_xlim(0, 1)
    axes.set_yticks([])
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value * 100:.0f} %"))
    axes.grid(False)
    axes.spines["left"].set_visible(False)
    _subtitle(axes, f"{eligible:,} users created on or before {summary['cutoff'][:16].replace('T', ' ')} UTC")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncols=3, fontsize=9)
    return _save(figure, out_dir, "deleted_within_30_days.png")


def plot_events_per_user(summary, out_dir):
    """How many users have n events, with the mean and the median marked."""
    figure, axes = plt.subplots(figsize=(10, 3.8))
    histogram = summary["histogram"]
    x = [bucket["events"] for bucket in histogram]
    y = [bucket["users"] for bucket in histogram]
    axes.bar(x, y, color=GREEN, width=0.8, zorder=2)
    top = max(y) * 1.2
    axes.set_ylim(0, top)
    for value, label, style in ((summary["median"], "median", "-"), (summary["mean"], "mean", "--")):
        axes.axvline(value, color=INK, linestyle=style, linewidth=1.3, zorder=3)
        axes.text(value, top * 0.97, f" {label} {value:.2f}".rstrip("0").rstrip("."), va="top", fontsize=9)
    axes.set_title("Events per user")
    _subtitle(axes, f"{summary['users']:,} users, {summary['events']:,} events; the most for one user: {summary['max']:,}")
    axes.set_xlabel("events of the user (created, updated, deleted)")
    axes.set_ylabel("users")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.yaxis.set_major_formatter(thousands)
    axes.grid(axis="x", visible=False)
    return _save(figure, out_dir, "events_per_user.png")


def write_markdown(summary, plots, out_dir):
    """report.md: what a reader wants first, then one section per figure, then where the data is."""
    period = summary["period"]
    created = summary["createdPerDay"]
    ttfu = summary["timeToFirstUpdate"]
    deletion = summary["deletedWithin30Days"]
    per_user = summary["eventsPerUser"]
    source = summary["input"]
    busiest = created["busiest"]
    days = period["days"]
    lines = [
        "# User history report",
        "",
        f"_{period['firstDay']} to {period['lastDay']} (UTC) · {source['events']:,} events of "
        f"{per_user['users']:,} users · from `{os.path.basename(source['path'])}` · made {summary['madeAt']}_",
        "",
        "## At a glance",
        "",
        f"- **{created['total']:,} users created** in {days} days: {created['meanPerDay']:.1f} a day"
        + (f", the busiest day {busiest['day']} with {busiest['created']:,}." if busiest else "."),
    ]
    if ttfu["medianSeconds"] is None:
        lines.append("- **No user was updated** after being created.")
    else:
        lines.append(
            f"- **Half of the updated users had their first update within {duration(ttfu['medianSeconds'])}** "
            f"({ttfu['usersUpdated']:,} users; {ttfu['usersNeverUpdated']:,} were never updated)."
        )
    if deletion["share"] is None:
        lines.append("- **Too early to tell how many users are deleted within 30 days**: no user was created "
                     "30 days before the end of the data.")
    else:
        lines.append(
            f"- **{percent(deletion['share'])} of users were deleted within 30 days** of creation "
            f"({deletion['deletedWithin30Days']:,} of the {deletion['eligibleUsers']:,} created by "
            f"{deletion['cutoff'][:10]})."
        )
    lines += [
        f"- **{per_user['mean']:.1f} events per user** on average; median {per_user['median']:g}, "
        f"the most {per_user['max']:,}.",
        "",
        "| figure | value | over |",
        "|---|---|---|",
        f"| users created per day | {created['meanPerDay']:.2f} (mean), {created['total']:,} in all | "
        f"{days} UTC days |",
        f"| median time to first update | {duration(ttfu['medianSeconds'])} | "
        f"{ttfu['usersUpdated']:,} users created and updated |",
        f"| deleted within 30 days | {percent(deletion['share'])} | {deletion['eligibleUsers']:,} users created "
        f"≥ 30 days before the end |",
        f"| events per user | mean {per_user['mean']:.2f}, median {per_user['median']:g}, max {per_user['max']:,} | "
        f"{per_user['users']:,} users |",
        "",
        "## Users created per day",
        "",
        f"![Users created per day]({plots['createdPerDay']})",
        "",
        "Each user's creation (its `CREATED` event) on its UTC day; days without one count 0.",
        "",
        "## Time from creation to first update",
        "",
        f"![Time from creation to first update]({plots['timeToFirstUpdate']})",
        "",
        "From a user's `CREATED` event to its first `UPDATED` event (the lowest version), over users that have "
        "both; the median is exact (the mean of the two middle values when their number is even).",
        "",
        "## Deleted within 30 days",
        "",
        f"![Deleted within 30 days]({plots['deletedWithin30Days']})",
        "",
        "Over users created at least 30 days before the end of the data (the latest event), so that every one "
        "of them had its full 30 days; a deletion exactly 30 days after creation counts as within.",
        "",
        "## Events per user",
        "",
        f"![Events per user]({plots['eventsPerUser']})",
        "",
        "Every event of each user in the history (created, updated, deleted), an event id counted once.",
        "",
        "## Data",
        "",
        "| dataset | rows | what |",
        "|---|---|---|",
    ]
    for name, dataset in summary["datasets"].items():
        lines.append(f"| [`{name}/`]({name}/) | {dataset['rows']:,} | {dataset['what']} |")
    lines += [
        "",
        f"Parquet, one dataset per figure; the figures themselves in [`summary.json`](summary.json). "
        f"Input: {source['lines']:,} lines, {source['events']:,} distinct events"
        + (f" ({source['duplicates']:,} repeated lines counted once)" if source["duplicates"] else "")
        + f"; the end of the data is {period['end']}.",
        "",
    ]
    with open(os.path.join(out_dir, "report.md"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
