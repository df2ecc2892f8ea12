"""The report's plots as inline SVG strings, drawn with matplotlib.

matplotlib is imported when a plot is drawn, never when marketplace is imported. Figures are built
with `matplotlib.figure.Figure` directly, not pyplot: no global figure manager, no GUI backend is
ever chosen (the Agg backend is selected for anything that would), and two requests drawing at once
in two threads do not share state. Text stays SVG text (svg.fonttype "none") so the page is small,
searchable and needs no font file; ids are salted with a fixed string so the same figures give the
same bytes.
"""
import io
import re

COLORS = ("#3366aa", "#dd7733", "#55aa55", "#aa4488", "#999933", "#44aaaa", "#cc4444", "#777777")
_HEAD = re.compile(r"^.*?(?=<svg)", re.S)  # the XML declaration and DOCTYPE: not allowed inside HTML
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)  # RDF boilerplate naming matplotlib


def _figure(width: float = 6.4, height: float = 3.0, cols: int = 1):
    import matplotlib

    matplotlib.use("Agg")  # only if nothing chose a backend yet; Figure below never needs one
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, cols)
    return fig, axes


def _svg(fig) -> str:
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "marketplace-report"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return _METADATA.sub("", _HEAD.sub("", buffer.getvalue(), count=1), count=1)


def _plain(text: str) -> str:
    """Text drawn as given: matplotlib would read a pair of $ as mathematics (and refuse a malformed one)."""
    return text.replace("$", r"\$")


def _days_axis(ax, days: list[str]) -> None:
    step = max(1, len(days) // 8)
    ax.set_xticks(range(0, len(days), step), [d[5:] for d in days[::step]], fontsize=8)


def gold_accuracy(by_day: list[dict]) -> str:
    """Answers and gold accuracy per day."""
    fig, ax = _figure()
    days = [d["day"] for d in by_day]
    ax.bar(range(len(days)), [d["answers"] for d in by_day], color="#c8d4e8", label="answers")
    ax.set_ylabel("answers per day")
    _days_axis(ax, days)
    right = ax.twinx()
    points = [(i, d["gold_accuracy"]) for i, d in enumerate(by_day) if d["gold_accuracy"] is not None]
    if points:
        right.plot(*zip(*points), marker="o", color=COLORS[1], label="gold accuracy")
    right.set_ylim(0, 1.05)
    right.set_ylabel("accuracy on gold")
    fig.legend(loc="outside upper center", ncols=2, fontsize=8, frameon=False)
    return _svg(fig)


def answers_per_task(rows: list[dict]) -> str:
    """Histogram: how many tasks have each number of answers."""
    fig, ax = _figure()
    ax.bar([str(r["answers"]) for r in rows], [r["tasks"] for r in rows], color=COLORS[0])
    ax.set_xlabel("answers on the task")
    ax.set_ylabel("tasks")
    return _svg(fig)


def redundancy(savings: dict) -> str:
    """Answers the finished tasks used against fixed redundancy."""
    fig, ax = _figure(height=1.8)
    names = [f"fixed ({savings['fixed_redundancy']} per task)", "used"]
    values = [savings["answers_at_fixed_redundancy"], savings["answers_used"]]
    ax.barh(names, values, color=[COLORS[7], COLORS[2]])
    for y, v in enumerate(values):
        ax.annotate(str(v), (v, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_xlabel("answers on finished tasks")
    return _svg(fig)


def confusion(matrix: dict) -> str:
    """Heat map of the crowd's answers (columns) against the inferred label (rows), row-normalised."""
    K = len(matrix["classes"])
    size = min(2.2 + 0.45 * K, 9.0)
    fig, ax = _figure(width=size + 1.2, height=size)
    image = ax.imshow(matrix["rates"], cmap="Blues", vmin=0, vmax=1)
    if K <= 40:  # beyond, names would overlap: the JSON has them
        names = [_plain(name) for name in matrix["classes"]]
        ax.set_xticks(range(K), names, rotation=45, ha="right", fontsize=8 if K <= 15 else 5)
        ax.set_yticks(range(K), names, fontsize=8 if K <= 15 else 5)
    ax.set_xlabel("crowd answer")
    ax.set_ylabel("inferred label")
    if len(matrix["classes"]) <= 12:
        for i, row in enumerate(matrix["counts"]):
            for j, n in enumerate(row):
                ax.text(j, i, str(n), ha="center", va="center", fontsize=7,
                        color="white" if matrix["rates"][i][j] > 0.6 else "black")
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of the row")
    return _svg(fig)


def distributions(trust: dict) -> str:
    """Histograms of annotator weight, Dawid-Skene accuracy and reputation."""
    fig, axes = _figure(width=8.4, height=2.6, cols=3)
    for ax, (key, title), color in zip(axes, (("weight", "weight"), ("ds_accuracy", "Dawid-Skene accuracy"),
                                               ("reputation", "reputation")), COLORS):
        bins = trust[key]["histogram"]
        ax.bar([b["low"] for b in bins], [b["count"] for b in bins], width=0.1, align="edge", color=color)
        ax.set_xlim(0, 1)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("value", fontsize=8)
    axes[0].set_ylabel("annotators")
    return _svg(fig)


def agreement(over_time: dict) -> str:
    """Krippendorff's alpha and Fleiss' kappa per bucket."""
    fig, ax = _figure()
    points = over_time["points"]
    names = [p["bucket"] for p in points]
    for key, label, color in (("krippendorff_alpha", "Krippendorff's alpha", COLORS[0]),
                              ("fleiss_kappa", "Fleiss' kappa", COLORS[1])):
        xy = [(i, p[key]) for i, p in enumerate(points) if p[key] is not None]
        if xy:
            ax.plot(*zip(*xy), marker="o", color=color, label=label)
    _days_axis(ax, names)
    ax.axhline(0, color="#bbbbbb", linewidth=0.8)
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel(f"agreement (tasks closing that {over_time['bucket']})", fontsize=8)
    ax.legend(fontsize=8, frameon=False)
    return _svg(fig)


def throughput(rows: list[dict]) -> str:
    """Answers, closed tasks and new projects per day."""
    fig, ax = _figure()
    days = [r["day"] for r in rows]
    for key, color in (("answers", COLORS[0]), ("tasks_closed", COLORS[2]), ("projects_created", COLORS[1]),
                       ("projects_published", COLORS[3])):
        ax.plot(range(len(days)), [r[key] for r in rows], color=color, label=key.replace("_", " "))
    _days_axis(ax, days)
    if max((r["answers"] for r in rows), default=0) > 1_000:  # answers dwarf the rest: log beyond 10
        ax.set_yscale("symlog", linthresh=10)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("per day")
    ax.legend(fontsize=8, frameon=False, ncols=2)
    return _svg(fig)


def money(totals: list[dict]) -> str:
    """Money moved per ledger movement type (one bar per type and currency)."""
    fig, ax = _figure(height=0.8 + 0.28 * max(1, len(totals)))
    names = [f"{t['kind']} ({t['currency']})" for t in totals]
    values = [t["amount_cents"] / 100 for t in totals]
    ax.barh(names, values, color=COLORS[0])
    ax.tick_params(axis="y", labelsize=8)
    ax.set_xlabel("amount moved (currency units)")
    ax.invert_yaxis()
    return _svg(fig)


def disputes(by_day: list[dict]) -> str:
    """Disputes opened, resolved and overturned per day."""
    fig, ax = _figure()
    days = [d["day"] for d in by_day]
    for offset, (key, color) in zip((-0.27, 0, 0.27), (("opened", COLORS[1]), ("resolved", COLORS[0]),
                                                       ("overturned", COLORS[6]))):
        ax.bar([i + offset for i in range(len(days))], [d[key] for d in by_day], width=0.27, color=color, label=key)
    _days_axis(ax, days)
    ax.set_ylabel("disputes")
    ax.legend(fontsize=8, frameon=False, ncols=3)
    return _svg(fig)
