"""A segment's daily sizes as a small inline SVG chart (no JavaScript, no CDN).

The axis starts at zero, with the top value written on it; one recorded day
is drawn as one labelled bar (a lone dot says nothing), two or more as a line.
"""

from __future__ import annotations

from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT, PAD, LEFT = 640, 160, 28, 64


def size_chart(points: list[tuple[date, int]]) -> SafeString:
    if not points:
        return format_html("<p>{}</p>", "No sizes recorded yet: they are kept at each recompute.")
    top = max(size for _, size in points) or 1
    if len(points) == 1:
        return _one_day(points[0], top)
    span = len(points) - 1

    def xy(index: int, size: int) -> tuple[float, float]:
        x = LEFT + (WIDTH - LEFT - PAD) * index / span
        y = HEIGHT - PAD - (HEIGHT - 2 * PAD) * size / top
        return round(x, 1), round(y, 1)

    coords = [xy(i, size) for i, (_, size) in enumerate(points)]
    line = " ".join(f"{x},{y}" for x, y in coords)
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="3"><title>{}: {}</title></circle>',
        (
            (x, y, day.isoformat(), f"{size:,}")
            for (x, y), (day, size) in zip(coords, points, strict=True)
        ),
    )
    first, last = points[0][0].isoformat(), points[-1][0].isoformat()
    return _frame(
        body=format_html(
            '<polyline points="{}" fill="none" stroke="#417690" stroke-width="2"/>'
            '<g fill="#417690">{}</g>',
            line,
            dots,
        ),
        label=f"Daily size from {first} to {last}, at most {top:,}",
        top=top,
        first=first,
        last=last,
    )


def _one_day(point: tuple[date, int], top: int) -> SafeString:
    day, size = point
    height = (HEIGHT - 2 * PAD) * size / top
    width = 48
    x = (LEFT + WIDTH - PAD - width) / 2
    body = format_html(
        '<rect x="{}" y="{}" width="{}" height="{}" fill="#417690"><title>{}: {}</title></rect>'
        '<text x="{}" y="{}" font-size="12" text-anchor="middle">{} members</text>',
        x,
        round(HEIGHT - PAD - height, 1),
        width,
        round(height, 1),
        day.isoformat(),
        f"{size:,}",
        x + width / 2,
        round(HEIGHT - PAD - height - 6, 1),
        f"{size:,}",
    )
    chart = _frame(
        body=body,
        label=f"Size on {day.isoformat()}: {size:,}",
        top=top,
        first=day.isoformat(),
        last="",
    )
    note = format_html(
        '<p class="segment-size-note">{}</p>',
        f"One day recorded so far ({day.isoformat()}); the trend line appears "
        "from the second day a recompute keeps its size.",
    )
    return format_html("{}{}", chart, note)


def _frame(*, body: SafeString, label: str, top: int, first: str, last: str) -> SafeString:
    return format_html(
        '<svg class="segment-size-chart" role="img" width="{w}" height="{h}" '
        'viewBox="0 0 {w} {h}" aria-label="{label}">'
        '<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" stroke="#999"/>'
        '<line x1="{left}" y1="{p}" x2="{left}" y2="{base}" stroke="#ccc"/>'
        "{body}"
        '<text x="{left}" y="{h2}" font-size="11">{first}</text>'
        '<text x="{right}" y="{h2}" font-size="11" text-anchor="end">{last}</text>'
        '<text x="{tick}" y="{top_y}" font-size="11" text-anchor="end">{top}</text>'
        '<text x="{tick}" y="{base}" font-size="11" text-anchor="end">0</text>'
        "</svg>",
        w=WIDTH,
        h=HEIGHT,
        p=PAD,
        left=LEFT,
        tick=LEFT - 4,
        right=WIDTH - PAD,
        base=HEIGHT - PAD,
        h2=HEIGHT - 8,
        top_y=PAD + 4,
        top=f"{top:,}",
        label=label,
        body=body,
        first=first,
        last=last,
    )
