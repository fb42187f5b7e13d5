"""Line charts of a measure across a course, drawn on the server as SVG coordinates: the page and the
PDF render the same figure from them, with no script and nothing fetched from elsewhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

WIDTH, HEIGHT = 520, 210
TOP, RIGHT, BOTTOM = 14, 16, 34


@dataclass
class ChartPoint:
    x: float
    y: float
    label: str  # what a reader needs beside the dot: "12 Mar: 72.5 cm"


@dataclass
class Tick:
    at: float
    label: str


@dataclass
class LineChart:
    title: str
    width: int
    height: int
    left: int
    points: list[ChartPoint]
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    baseline_y: float | None = None

    @property
    def plot_bottom(self) -> int:
        return self.height - BOTTOM

    @property
    def plot_right(self) -> int:
        return self.width - RIGHT

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


def _nice_ticks(low: Decimal, high: Decimal, decimals: int, most: int = 5) -> list[Decimal]:
    """Grid lines at a round step (1, 2, 5 × a power of ten; 2.5 too for a measure with decimals), at most
    ``most`` steps from the first multiple of the step at or above ``low``: 0, 2, 4… 10 rather than 2.5, 5, 7.5."""
    span = high - low
    magnitude = Decimal(10) ** (span / most).adjusted()
    factors = (1, 2, 5, 10) if decimals == 0 else (1, 2, Decimal("2.5"), 5, 10)
    step = next(magnitude * f for f in factors if span / (magnitude * f) <= most)
    if decimals == 0:
        step = max(step, Decimal(1))
    value = (low / step).to_integral_value(rounding="ROUND_CEILING") * step
    ticks = []
    while value <= high:
        ticks.append(value)
        value += step
    return ticks


def line_chart(title: str, readings: list[tuple[date, Decimal, str]], *, low: Decimal | None,
               high: Decimal | None, decimals: int = 0, labels: dict[int, str] | None = None,
               baseline: Decimal | None = None) -> LineChart | None:
    """``readings`` (day, value, text) in order; the y axis spans ``low``–``high`` when given (a short scale:
    a grade, a score), else the readings' own span. ``labels`` names whole values (a scale's grades)."""
    if not readings:
        return None
    values = [value for _, value, _ in readings]
    if low is None or high is None:
        # No fixed scale: the readings' own span, with room around it, so a 2 cm change shows.
        pad = max((max(values) - min(values)) / 5, Decimal(1))
        low, high = min(values) - pad, max(values) + pad
    low, high = min([*values, low]), max([*values, high])
    left = 132 if labels else 52
    plot_w, plot_h = WIDTH - RIGHT - left, HEIGHT - BOTTOM - TOP
    first, last = readings[0][0], readings[-1][0]
    span = max((last - first).days, 1)

    def x_of(day: date) -> float:
        if first == last:
            return left + plot_w / 2
        return left + plot_w * (day - first).days / span

    def y_of(value: Decimal) -> float:
        return TOP + plot_h * float((high - value) / (high - low))

    points = [ChartPoint(x_of(day), y_of(value), f"{day:%d %b}: {text}") for day, value, text in readings]
    if labels:
        y_ticks = [Tick(y_of(Decimal(v)), name) for v, name in sorted(labels.items())]
    else:
        places = Decimal(1).scaleb(-decimals)
        y_ticks = [Tick(y_of(v), str(v.quantize(places))) for v in _nice_ticks(low, high, decimals)]
    days = sorted({day for day, _, _ in readings})
    if len(days) > 6:  # keep the day labels legible on a long course
        days = [days[round(i * (len(days) - 1) / 5)] for i in range(6)]
    x_ticks = [Tick(x_of(day), f"{day:%d %b}") for day in days]
    return LineChart(title=title, width=WIDTH, height=HEIGHT, left=left, points=points, y_ticks=y_ticks,
                     x_ticks=x_ticks, baseline_y=y_of(baseline) if baseline is not None else None)
