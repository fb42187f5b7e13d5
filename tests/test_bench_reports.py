"""The benchmark's synthetic chain is a fair test of the reports: its deliberately bad lot is flagged by
the lot safety signal, its other lots are not, and the rollup's rates equal the raw tables'."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from bench.populate import populate
from bench.reports import raw_rates_by_product
from clinic import create_app
from clinic.extensions import db
from clinic.records.followups.models import SideEffect
from clinic.records.treatments.models import TreatmentSession
from clinic.reports import queries
from clinic.reports.models import DailyFigure
from clinic.reports.queries import ReportFilter
from tests.conftest import ON_POSTGRES, make_config


@pytest.mark.skipif(ON_POSTGRES, reason="a small chain in an SQLite file of its own is enough here")
def test_the_benchs_bad_lot_is_flagged_and_its_rates_match_the_raw_tables(tmp_path: Path, capsys) -> None:
    app = create_app(make_config(f"sqlite:///{tmp_path / 'bench.sqlite'}"))
    with app.app_context():
        upgrade()
        populate(300, 10_000, days=120)  # four months: the rebuild stays quick
        printed = capsys.readouterr().out
        bad = printed.split("the bad lot is ")[1].split()[0]
        sessions = db.session.scalar(sa.select(sa.func.count()).select_from(TreatmentSession))
        effects = db.session.scalar(sa.select(sa.func.count()).select_from(SideEffect))
        assert 0.03 < effects / sessions < 0.07  # about 4 %, and the bad lot's extra
        first = db.session.scalar(sa.select(sa.func.min(DailyFigure.day)))
        found = queries.lot_safety_signal(first, date.today())
        assert [f.lot.lot_number for f in found if f.signal.flagged] == [bad]
        everything = ReportFilter(first, date.today())
        rolled = {row.item: (row.sessions, row.with_side_effect)
                  for row in queries.side_effect_rates(everything)[1]["product"]}
        assert rolled == raw_rates_by_product(everything.start, everything.end)
        db.engine.dispose()
