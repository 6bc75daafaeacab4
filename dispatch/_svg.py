"""The report's charts as inline SVG, drawn here rather than by matplotlib.

Why by hand: the charts are a few bars, dots and lines; drawn as SVG elements their text
stays text, so the reader's browser sets the Chinese names with its own fonts, a
printed PDF keeps them searchable, and the service needs no CJK font (matplotlib sets
text as paths from the server's fonts: without a CJK font every name would be boxes).
No figure object, no backend, no font cache at start-up: a chart is a string, the same
for the same data, in microseconds.

`Chart` places values in a plot area with margins for the labels; everything is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

BLUE: Final = "#1f77b4"
GREEN: Final = "#2ca02c"
RED: Final = "#d62728"
GREY: Final = "#888888"
ORANGE: Final = "#ff7f0e"


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def nice_top(value: float) -> float:
    """The smallest of 1, 2, 5 × 10^k at or above `value` (an axis' top)."""
    if value <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= value:
        step *= 10
    while step > value:
        step /= 10
    for m in (1, 2, 5, 10):
        if step * m >= value:
            return step * m
    return step * 10


@dataclass
class Chart:
    """An SVG of `width` × `height` px whose plot area is inside the margins; y runs from
    0 at the bottom to `y_top` at the top of the plot area."""

    width: float
    height: float
    y_top: float
    left: float = 48
    right: float = 12
    top: float = 24
    bottom: float = 40
    parts: list[str] = field(default_factory=list)

    @property
    def plot_w(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> float:
        return self.height - self.top - self.bottom

    def y(self, value: float) -> float:
        return self.top + self.plot_h * (1 - min(value, self.y_top) / self.y_top)

    def x(self, fraction: float) -> float:
        return self.left + self.plot_w * fraction

    def add(self, svg: str) -> None:
        self.parts.append(svg)

    def text(self, x: float, y: float, text: object, *, anchor: str = "middle",
             size: float = 11, colour: str = "#333", bold: bool = False) -> None:
        weight = ' font-weight="bold"' if bold else ""
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}"'
                 f' fill="{colour}"{weight}>{esc(text)}</text>')

    def rect(self, x: float, y: float, w: float, h: float, colour: str,
             title: str | None = None) -> None:
        tip = f"<title>{esc(title)}</title>" if title else ""
        self.add(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}"'
                 f' height="{max(h, 0):.1f}" fill="{colour}">{tip}</rect>')

    def line(self, x1: float, y1: float, x2: float, y2: float, colour: str,
             width: float = 1, dash: str | None = None) -> None:
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"'
                 f' stroke="{colour}" stroke-width="{width}"{d}/>')

    def y_axis(self, ticks: int = 5, unit: str = "") -> None:
        for i in range(ticks + 1):
            value = self.y_top * i / ticks
            y = self.y(value)
            self.line(self.left, y, self.left + self.plot_w, y, "#e5e5e5")
            label = f"{value:g}" if value < 10 or value == int(value) else f"{value:.0f}"
            self.text(self.left - 6, y + 4, f"{label}{unit}", anchor="end", size=10)
        self.line(self.left, self.top, self.left, self.top + self.plot_h, "#999")
        self.line(self.left, self.top + self.plot_h, self.left + self.plot_w,
                  self.top + self.plot_h, "#999")

    def legend(self, entries: Sequence[tuple[str, str]]) -> None:
        x = self.left
        for label, colour in entries:
            self.rect(x, 6, 10, 10, colour)
            self.text(x + 14, 15, label, anchor="start", size=11)
            x += 24 + 12 * len(label)

    def svg(self, title: str) -> str:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width:.0f}'
                f' {self.height:.0f}" width="{self.width:.0f}" height="{self.height:.0f}"'
                f' role="img" aria-label="{esc(title)}"'
                ' font-family="system-ui, \'Noto Sans CJK SC\', \'WenQuanYi Micro Hei\','
                f' sans-serif"><title>{esc(title)}</title>{"".join(self.parts)}</svg>')
