"""A segment's daily sizes as a small inline SVG line chart (no JavaScript, no CDN)."""

from __future__ import annotations

from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT, PAD = 640, 160, 28


def size_chart(points: list[tuple[date, int]]) -> SafeString:
    if not points:
        return format_html("<p>{}</p>", "No sizes recorded yet: they are kept at each recompute.")
    top = max(size for _, size in points) or 1
    span = max(len(points) - 1, 1)

    def xy(index: int, size: int) -> tuple[float, float]:
        x = PAD + (WIDTH - 2 * PAD) * index / span
        y = HEIGHT - PAD - (HEIGHT - 2 * PAD) * size / top
        return round(x, 1), round(y, 1)

    coords = [xy(i, size) for i, (_, size) in enumerate(points)]
    line = " ".join(f"{x},{y}" for x, y in coords)
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="3"><title>{}: {}</title></circle>',
        ((x, y, day.isoformat(), size) for (x, y), (day, size) in zip(coords, points, strict=True)),
    )
    first, last = points[0][0].isoformat(), points[-1][0].isoformat()
    return format_html(
        '<svg class="segment-size-chart" role="img" width="{w}" height="{h}" '
        'viewBox="0 0 {w} {h}" aria-label="Daily size from {first} to {last}">'
        '<line x1="{p}" y1="{base}" x2="{right}" y2="{base}" stroke="#999"/>'
        '<polyline points="{line}" fill="none" stroke="#417690" stroke-width="2"/>'
        '<g fill="#417690">{dots}</g>'
        '<text x="{p}" y="{h2}" font-size="11">{first}</text>'
        '<text x="{right}" y="{h2}" font-size="11" text-anchor="end">{last}</text>'
        '<text x="2" y="{top_y}" font-size="11">{top}</text>'
        "</svg>",
        w=WIDTH,
        h=HEIGHT,
        p=PAD,
        right=WIDTH - PAD,
        base=HEIGHT - PAD,
        h2=HEIGHT - 8,
        top_y=PAD - 6,
        top=top,
        line=line,
        dots=dots,
        first=first,
        last=last,
    )
