"""Per-job resource bars for the step summary: Mermaid `xychart-beta` charts GitHub draws.

Two charts, peak memory and CPU time, one bar per job, largest first. Drawn only where a
reader would rather look than read: with two or more measured jobs (one bar compares
nothing), and at most `MAX_BARS` bars (the largest, which are the ones a reader wants;
the title says how many of how many). Horizontal, so a job id is a label on its own line
rather than a word squeezed under a bar.

`xychart-beta` is Mermaid's name for the chart since 10.3 (GitHub draws it); the helpers
that make any text a safe xychart string live here, for `trend`'s line charts too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from decimal import Decimal

from orchestrator.report.resources import JobUsage

#: Bars per chart: past this a chart's labels overlap and its bars are hairlines.
MAX_BARS = 20
#: Longer labels are cut (with "…"): xychart gives its labels no wrapping.
LABEL_MAX = 40
MIB, GIB = 1 << 20, 1 << 30
#: What Mermaid reads as an entity anywhere in a chart's text (its `encodeEntities`).
_ENTITY = re.compile(r"#(\w+;)")
#: Characters an xychart string cannot hold as they are, and what stands in for them.
_SAFE = {'"': "'", "%": "_", "<": "\u2039", ">": "\u203a"}


def resource_charts(usages: Sequence[tuple[str, JobUsage]]) -> list[str]:
    """Markdown lines: the memory chart and the CPU chart, each fenced; [] for either
    that has fewer than two jobs to compare."""
    lines: list[str] = []
    memory = [(job, float(u.peak_memory_bytes)) for job, u in usages if u.peak_memory_bytes]
    if len(memory) >= 2:
        big = max(v for _, v in memory) >= 10 * GIB
        unit, size = ("GiB", float(GIB)) if big else ("MiB", float(MIB))
        lines += bar_chart("Peak memory", unit, memory, lambda v: v / size)
    cpu = [(job, u.cpu_s) for job, u in usages if u.cpu_s is not None]
    if len(cpu) >= 2:
        minutes = max(v for _, v in cpu) >= 600
        unit, per = ("minutes", 60.0) if minutes else ("seconds", 1.0)
        lines += bar_chart("CPU time", unit, cpu, lambda v: v / per)
    return lines


def bar_chart(
    what: str, unit: str, values: Sequence[tuple[str, float]], scale: Callable[[float], float]
) -> list[str]:
    """One fenced horizontal bar chart of the largest `MAX_BARS` values, largest on top."""
    ranked = sorted(values, key=lambda item: -item[1])
    shown = ranked[:MAX_BARS]
    scope = f"top {len(shown)} of {len(ranked)} jobs" if len(ranked) > len(shown) else "per job"
    labels = bar_labels([job for job, _ in shown])
    top = scale(shown[0][1])
    return [
        "",
        "```mermaid",
        "xychart-beta horizontal",
        f"    title {mermaid_text(f'{what} {scope} ({unit})')}",
        f"    x-axis [{', '.join(mermaid_text(label) for label in labels)}]",
        # From zero: xychart's own range starts at the smallest bar, which makes a job
        # using half the memory of another look like it used next to none.
        f"    y-axis {mermaid_text(unit)} 0 --> {mermaid_number(_axis_top(top))}",
        f"    bar [{', '.join(mermaid_number(scale(value)) for _, value in shown)}]",
        "```",
    ]


#: Where the value axis may end, times a power of ten: round figures a reader can read.
NICE_TOPS = (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)


def _axis_top(largest: float) -> float:
    """The first round figure at least 5% past the largest bar (1 when all are zero)."""
    if largest <= 0:
        return 1.0
    wanted = largest * 1.05
    power = 10.0 ** math.floor(math.log10(wanted))
    return next(nice * power for nice in NICE_TOPS if nice * power >= wanted)


def bar_labels(job_ids: Sequence[str]) -> list[str]:
    """Each job's label, as Mermaid will show it: its id made a safe xychart string
    (`mermaid_text`), cut to `LABEL_MAX`, "?" if nothing printable is left, and numbered
    where two labels would otherwise be one (xychart draws both bars in one category)."""
    labels: list[str] = []
    for job_id in job_ids:
        text = mermaid_text(job_id)[1:-1].strip() or "?"  # Mermaid trims a string's ends
        cut = text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"
        label, number = cut, 2
        while label in labels:
            label, number = f"{cut} #{number}", number + 1
        labels.append(label)
    return labels


def mermaid_text(text: str) -> str:
    """One quoted xychart string, whatever the text (a job id, a metric name) holds.

    Its strings cannot hold a quote; a line break would end the statement or the Markdown
    fence around the chart; `%%` starts a directive Mermaid reads even inside a string;
    `#lt;` or `#35;` would be drawn as the character it names; Mermaid sanitizes labels as
    HTML, so `<` shows as "&lt;" and `<tag>` vanishes (single angle quotation marks read
    the same); an empty string does not parse.
    """
    kept = "".join(_SAFE.get(c, c if c.isprintable() else " ") for c in text)
    kept = _ENTITY.sub(r"_\1", kept)
    return f'"{kept or " "}"'


def mermaid_number(value: float) -> str:
    """Six significant digits, never in exponent form: xychart's grammar has none."""
    text = format(Decimal(f"{value:.6g}"), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
