"""The measure charts drawn on the server: where the dots fall, the grid's round steps, a scale's labels."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from clinic.records.outcomes.charts import BOTTOM, HEIGHT, TOP, line_chart


def test_a_score_is_charted_over_its_whole_scale_with_round_grid_lines() -> None:
    chart = line_chart("Satisfaction", [(date(2026, 1, 1), Decimal(4), "4"), (date(2026, 1, 31), Decimal(9), "9")],
                       low=Decimal(0), high=Decimal(10))
    assert [t.label for t in chart.y_ticks] == ["0", "2", "4", "6", "8", "10"]
    bottom, top = HEIGHT - BOTTOM, TOP
    first, last = chart.points
    assert first.x == chart.left and last.x == chart.plot_right  # the first and the last day at the edges
    assert abs(first.y - (bottom - 0.4 * (bottom - top))) < 0.01
    assert abs(last.y - (bottom - 0.9 * (bottom - top))) < 0.01


def test_a_circumference_is_charted_over_its_readings_so_a_small_change_shows() -> None:
    chart = line_chart("Waist (cm)", [(date(2026, 1, 1), Decimal("82.5"), "82.5 cm"),
                                      (date(2026, 3, 1), Decimal("80.0"), "80.0 cm")],
                       low=None, high=None, decimals=1)
    first, last = chart.points
    assert last.y - first.y > (HEIGHT - BOTTOM - TOP) / 2  # the 2.5 cm drop takes most of the height


def test_gais_grades_are_named_on_the_axis_and_one_day_sits_in_the_middle() -> None:
    labels = {5: "Very much improved", 1: "Worse"}
    chart = line_chart("GAIS", [(date(2026, 2, 1), Decimal(4), "Much improved")], low=Decimal(1),
                       high=Decimal(5), labels=labels)
    assert [t.label for t in chart.y_ticks] == ["Worse", "Very much improved"]
    assert chart.points[0].x == chart.left + (chart.plot_right - chart.left) / 2
    assert line_chart("Nothing", [], low=None, high=None) is None
