"""Server-side SVG charts for the statistics pages: no script, no CDN, readable by screen readers.

Each chart is a plain ``<svg role="img">`` string with a ``<title>`` and a ``<desc>`` (named by
``aria-labelledby``) and a ``<title>`` on every bar or slice, so a mouse pointer, a screen reader and a
printed page all get the figures. Every text that comes from data (agency and procedure names) is escaped
here: the strings are safe to insert into a page as they are. The pages show the same figures in a table
next to the chart; the chart never is the only place a number appears.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from itertools import count

# (indicator key, Vietnamese label, colour): colours keep at least 4.5:1 against white
BAR_SERIES: tuple[tuple[str, str, str], ...] = (
    ("received", "Tiếp nhận", "#0b4f8a"),
    ("resolved", "Đã giải quyết", "#5b3f8c"),
    ("early", "Trước hạn", "#00695c"),
    ("on_time", "Đúng hạn", "#1e7b34"),
    ("late", "Quá hạn", "#a50e0e"),
)

SATISFACTION_LEVELS: tuple[tuple[int, str, str], ...] = (
    (1, "Rất không hài lòng", "#a50e0e"),
    (2, "Không hài lòng", "#c2410c"),
    (3, "Bình thường", "#6b6b6b"),
    (4, "Hài lòng", "#1e7b34"),
    (5, "Rất hài lòng", "#0b4f8a"),
)

_ids = count(1)  # unique element ids when several charts share a page


def _id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


@dataclass(frozen=True)
class BarGroup:
    """One group on the bar chart: its label (an agency, a department, a procedure) and its counts."""

    label: str
    values: dict[str, int]


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _nice_max(value: int) -> int:
    """A round upper bound for the axis (1, 2, 5, 10, 20, 50, …) at or above ``value``."""
    if value <= 0:
        return 1
    magnitude: int = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def bar_chart(
    groups: Sequence[BarGroup],
    title: str = "Tình hình giải quyết hồ sơ",
    series: Sequence[tuple[str, str, str]] = BAR_SERIES,
) -> str:
    """Grouped horizontal bars: per group (its full name above), one labelled bar per series (received,
    resolved, early, on time, late) with its value at the end. Series are named in text next to each bar, so
    the colour is never the only carrier of meaning; long Vietnamese agency names fit on one line."""
    chart_id = _id("bar")
    width, left, label_w, value_w = 640, 8, 104, 36
    bar_h, bar_gap, head_h, group_gap = 12, 3, 20, 12
    plot_x = left + label_w
    plot_w = width - plot_x - value_w
    group_h = head_h + len(series) * (bar_h + bar_gap) + group_gap
    top, axis_h = 8, 22
    height = top + max(1, len(groups)) * group_h + axis_h
    # at least 5, so the five steps of the axis are whole numbers (counts of dossiers)
    peak = max(5, _nice_max(max((g.values.get(k, 0) for g in groups for k, _, _ in series), default=0)))
    summary = "; ".join(
        f"{g.label}: " + ", ".join(f"{name} {g.values.get(key, 0)}" for key, name, _ in series) for g in groups
    )
    desc = f"Biểu đồ thanh ngang. {summary}." if groups else "Không có số liệu trong kỳ."
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="{chart_id}-t {chart_id}-d">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
        '<g font-family="Noto Serif, serif" font-size="11" fill="#1b1b1b">',
    ]
    bottom = height - axis_h
    for i in range(6 if groups else 0):  # the value axis: light grid lines and five steps, at the bottom
        value = peak * i / 5
        x = plot_x + plot_w * i / 5
        label = f"{value:g}"
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" stroke="#d6d6d6"/>')
        out.append(f'<text x="{x:.1f}" y="{bottom + 15}" text-anchor="middle">{escape(label)}</text>')
    if groups:
        out.append(f'<line x1="{plot_x}" x2="{plot_x}" y1="{top}" y2="{bottom}" stroke="#4a4a4a"/>')
    else:
        out.append(
            f'<text x="{plot_x + plot_w / 2:.0f}" y="{top + group_h / 2:.0f}" text-anchor="middle" font-size="14">'
            "Không có số liệu trong kỳ</text>"
        )
    for index, group in enumerate(groups):
        y0 = top + index * group_h
        out.append(
            f'<text x="{left}" y="{y0 + 14}" font-size="12" font-weight="700">'
            f"<title>{escape(group.label)}</title>{escape(_short(group.label, 80))}</text>"
        )
        for j, (key, name, colour) in enumerate(series):
            value = group.values.get(key, 0)
            y = y0 + head_h + j * (bar_h + bar_gap)
            w = plot_w * value / peak
            out.append(f'<text x="{left + 8}" y="{y + bar_h - 2}">{escape(name)}</text>')
            out.append(
                f'<rect x="{plot_x}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
                f"<title>{escape(group.label)} — {escape(name)}: {value}</title></rect>"
            )
            out.append(f'<text x="{plot_x + w + 4:.1f}" y="{y + bar_h - 2}">{value}</text>')
    out.append("</g></svg>")
    return "".join(out)


def _arc(cx: float, cy: float, r_out: float, r_in: float, start: float, end: float) -> str:
    """The path of a ring segment from angle ``start`` to ``end`` (radians, 0 = top, clockwise)."""

    def point(r: float, a: float) -> tuple[float, float]:
        return cx + r * math.sin(a), cy - r * math.cos(a)

    large = 1 if end - start > math.pi else 0
    x1, y1 = point(r_out, start)
    x2, y2 = point(r_out, end)
    x3, y3 = point(r_in, end)
    x4, y4 = point(r_in, start)
    return (
        f"M{x1:.2f},{y1:.2f} A{r_out},{r_out} 0 {large} 1 {x2:.2f},{y2:.2f} "
        f"L{x3:.2f},{y3:.2f} A{r_in},{r_in} 0 {large} 0 {x4:.2f},{y4:.2f} Z"
    )


def donut_chart(ratings: Sequence[int], title: str = "Mức độ hài lòng của người dân") -> str:
    """A ring of the five satisfaction levels (counts of ratings 1…5), with the satisfied share inside."""
    chart_id = _id("donut")
    counts = [int(ratings[i]) if i < len(ratings) else 0 for i in range(5)]
    total = sum(counts)
    cx, cy, r_out, r_in = 110, 110, 100, 58
    width, height = 420, 230
    satisfied = counts[3] + counts[4]
    share = f"{100 * satisfied / total:.1f}".replace(".", ",") + "%" if total else "—"
    parts = ", ".join(f"{name} {counts[level - 1]}" for level, name, _ in SATISFACTION_LEVELS)
    desc = (
        f"Biểu đồ tròn. {total} lượt đánh giá: {parts}. Tỷ lệ hài lòng {share}."
        if total
        else "Chưa có lượt đánh giá nào trong kỳ."
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="{chart_id}-t {chart_id}-d">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
        '<g font-family="Noto Serif, serif" font-size="12" fill="#1b1b1b">',
    ]
    if not total:
        out.append(
            f'<circle cx="{cx}" cy="{cy}" r="{(r_out + r_in) / 2}" fill="none" stroke="#d6d6d6" '
            f'stroke-width="{r_out - r_in}"><title>Chưa có đánh giá</title></circle>'
        )
    else:
        angle = 0.0
        for level, name, colour in SATISFACTION_LEVELS:
            n = counts[level - 1]
            if not n:
                continue
            label = f"{name}: {n} ({100 * n / total:.1f}%)".replace(".", ",")
            if n == total:  # a full ring: an arc from 0 to 2π would be empty
                out.append(
                    f'<circle cx="{cx}" cy="{cy}" r="{(r_out + r_in) / 2}" fill="none" stroke="{colour}" '
                    f'stroke-width="{r_out - r_in}"><title>{escape(label)}</title></circle>'
                )
                break
            sweep = 2 * math.pi * n / total
            out.append(
                f'<path d="{_arc(cx, cy, r_out, r_in, angle, angle + sweep)}" fill="{colour}" stroke="#fff">'
                f"<title>{escape(label)}</title></path>"
            )
            angle += sweep
    out.append(f'<text x="{cx}" y="{cy - 4}" text-anchor="middle" font-size="18" font-weight="700">{share}</text>')
    out.append(f'<text x="{cx}" y="{cy + 16}" text-anchor="middle" font-size="11">hài lòng</text>')
    for i, (level, name, colour) in enumerate(SATISFACTION_LEVELS):
        y = 34 + i * 30
        out.append(
            f'<rect x="240" y="{y}" width="14" height="14" fill="{colour}"/>'
            f'<text x="260" y="{y + 12}">{level}. {escape(name)}: {counts[level - 1]}</text>'
        )
    out.append("</g></svg>")
    return "".join(out)
