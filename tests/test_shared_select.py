"""A select whose options many rows share renders as WTForms' own would, each row with its own choice."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from wtforms import Form, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import Select

from clinic.core.forms import SharedChoicesSelect, optional_int

LOTS = [SelectChoice("", "Choose a lot…")] + [SelectChoice(n, f"L{n} <Hyal & Co> exp 2027") for n in range(1, 8)]
AREAS = [SelectChoice("", "Choose…")] + [
    SelectChoice(f"area{n}", f"Area {n}", optgroup="Planned for this course" if n < 3 else "Other areas")
    for n in range(6)]


class Row(Form):
    lot_id = SelectField("Lot", coerce=optional_int, validate_choice=False, widget=SharedChoicesSelect())
    area_code = SelectField("Area", validate_choice=False, widget=SharedChoicesSelect())


def _chosen(html: str) -> list[str]:
    return re.findall(r'<option selected value="([^"]*)"', html)


@pytest.mark.parametrize(("lot", "area", "chosen"), [
    (None, None, ["", ""]),  # nothing yet: the blank option
    (3, "area4", ["3", "area4"]),
    (7, "area0", ["7", "area0"]),
    (99, "nowhere", [[], []]),  # a value no longer offered: nothing marked, as WTForms does
])
def test_each_row_marks_its_own_choice_in_the_shared_list(app: Flask, lot: int | None, area: str | None,
                                                          chosen: list[object]) -> None:
    with app.test_request_context():
        rows = [Row(data={"lot_id": lot, "area_code": area}), Row(data={"lot_id": 5, "area_code": "area1"})]
        for row in rows:
            row.lot_id.choices, row.area_code.choices = LOTS, AREAS  # one list shared by every row
        first = [rows[0].lot_id(), rows[0].area_code()]
        assert [_chosen(html) for html in first] == [c if isinstance(c, list) else [c] for c in chosen]
        assert [_chosen(rows[1].lot_id()), _chosen(rows[1].area_code())] == [["5"], ["area1"]]
        for row in rows:  # the same markup as WTForms' own select, apart from which option is marked
            for field in (row.lot_id, row.area_code):
                assert field().replace(" selected", "") == Select()(field).replace(" selected", "")
        assert "L1 &lt;Hyal &amp; Co&gt; exp 2027" in first[0]
        assert '<optgroup label="Other areas"><option value="area3">Area 3</option>' in first[1]
