"""Small server-rendered SVG charts (no JavaScript, no CDN).

Every value axis starts at zero (a line from 1,331 to 1,400 is not a
five-fold rise), and every number is written with thousands separators.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT, PAD = 560, 150, 28


def _label(value) -> str:
    return value.strftime("%b %d") if isinstance(value, date) else str(value)


def _number(value) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _scale(values: Sequence[float]) -> float:
    top = max(values, default=0)
    return (HEIGHT - 2 * PAD) / top if top else 0.0


def bar_chart(points: Sequence[tuple[object, int]], *, title: str) -> SafeString:
    """Vertical bars, one per point (e.g. events per day)."""
    values = [v for _, v in points]
    scale = _scale(values)
    step = (WIDTH - 2 * PAD) / max(len(points), 1)
    parts = []
    for i, (label, value) in enumerate(points):
        h, x, w = value * scale, PAD + i * step, max(step - 2, 1)
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{HEIGHT - PAD - h:.1f}" width="{w:.1f}"'
            f' height="{h:.1f}"><title>{escape(_label(label))}: {_number(value)}</title></rect>'
        )
    return _svg(title, parts, points, max(values, default=0))


def line_chart(points: Sequence[tuple[object, int]], *, title: str) -> SafeString:
    """A line through the points (e.g. profiles over time)."""
    values = [v for _, v in points]
    span = max(values, default=0) or 1
    step = (WIDTH - 2 * PAD) / max(len(points) - 1, 1)
    coords = [
        (PAD + i * step, HEIGHT - PAD - v / span * (HEIGHT - 2 * PAD)) for i, v in enumerate(values)
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    parts = [f'<polyline class="line" points="{path}"/>']
    parts += [
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" class="bar">'
        f"<title>{escape(_label(label))}: {_number(value)}</title></circle>"
        for (x, y), (label, value) in zip(coords, points, strict=True)
    ]
    return _svg(title, parts, points, max(values, default=0))


def hbar_chart(points: Sequence[tuple[str, int]], *, title: str) -> SafeString:
    """Horizontal bars with their labels (e.g. segment sizes)."""
    row = 18
    height = max(len(points), 1) * row + 10
    top = max((v for _, v in points), default=0) or 1
    label_w = 170
    parts = []
    for i, (label, value) in enumerate(points):
        y = 5 + i * row
        w = value / top * (WIDTH - label_w - 60)
        parts.append(
            f'<text x="0" y="{y + 12}">{escape(str(label)[:28])}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row - 5}">'
            f"<title>{escape(str(label))}: {_number(value)}</title></rect>"
            f'<text x="{label_w + w + 4:.1f}" y="{y + 12}">{_number(value)}</text>'
        )
    body = "".join(parts) or '<text x="0" y="14">Nothing yet.</text>'
    return mark_safe(  # noqa: S308 - every interpolated label is escaped above
        f'<svg class="bo-chart" viewBox="0 0 {WIDTH} {height}" role="img"'
        f' aria-label="{escape(title)}"><title>{escape(title)}</title>{body}</svg>'
    )


def _svg(title: str, parts: list[str], points, top: int) -> SafeString:
    first = escape(_label(points[0][0])) if points else ""
    last = escape(_label(points[-1][0])) if points else ""
    axis = (
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}"'
        ' stroke="#ccc"/>'
        f'<text x="{PAD}" y="{PAD - 8}">{_number(top)}</text>'
        f'<text x="2" y="{HEIGHT - PAD - 2}">0</text>'
        f'<text x="{PAD}" y="{HEIGHT - PAD + 14}">{first}</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - PAD + 14}" text-anchor="end">{last}</text>'
    )
    return mark_safe(  # noqa: S308 - every interpolated label is escaped above
        f'<svg class="bo-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"'
        f' aria-label="{escape(title)}"><title>{escape(title)}</title>{axis}{"".join(parts)}</svg>'
    )
