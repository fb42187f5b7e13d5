"""The lot safety signal: Fisher's exact test against the lot's siblings, corrected for many lots; shown
on the auditor's home page and on the lot's page with a way to quarantine the lot."""

from __future__ import annotations

import html
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from scipy import stats

from clinic.extensions import db
from clinic.inventory import services as inventory
from clinic.inventory.models import LotHold
from clinic.records.treatments import services as treatments
from clinic.reports.models import DailyFigure, MonthlyFigure
from clinic.reports.queries import lot_safety_signal
from clinic.reports.stats import LotFigures, fisher_greater, lot_signals
from tests.conftest import PASSWORDS
from tests.factories import NOW, TODAY, ready_course, save
from tests.test_reports_figures import FIRST_TIME, _side_effect


def _lot(lot_id: int, sessions: int, signal: int, siblings: int, sibling_signal: int) -> LotFigures:
    return LotFigures(lot_id, 1, sessions, signal, siblings, sibling_signal)


def test_a_lot_with_many_more_side_effects_than_its_siblings_is_flagged() -> None:
    [bad] = lot_signals([_lot(1, 60, 15, 600, 24)], min_sessions=30, level=0.05)
    assert bad.flagged and bad.p_value < 1e-4
    assert bad.rate.per_100 == 25.0 and bad.sibling_rate.per_100 == 4.0


@pytest.mark.parametrize("table", [(12, 40, 20, 400), (2, 40, 30, 400), (6, 50, 20, 500), (0, 30, 5, 300),
                                   (4, 4, 0, 8), (30, 30, 400, 400)])
def test_the_vectorised_test_is_fishers_exact_test(table) -> None:
    a, n1, b, n2 = table
    expected = stats.fisher_exact([[a, n1 - a], [b, n2 - b]], alternative="greater").pvalue
    assert fisher_greater([_lot(1, n1, a, n2, b)]) == [pytest.approx(expected, rel=1e-9)]


def test_a_lot_with_fewer_sessions_than_the_minimum_is_not_tested() -> None:
    assert lot_signals([_lot(1, 29, 29, 600, 24)], min_sessions=30, level=0.05) == []


def test_a_lot_with_the_same_rate_as_its_siblings_is_not_flagged() -> None:
    [same] = lot_signals([_lot(1, 100, 4, 600, 24)], min_sessions=30, level=0.05)
    assert not same.flagged and same.p_value > 0.4


def test_a_lot_with_fewer_side_effects_is_never_flagged_however_different() -> None:
    [better] = lot_signals([_lot(1, 300, 0, 600, 100)], min_sessions=30, level=0.05)
    assert not better.flagged


def test_the_correction_for_many_lots_keeps_a_chance_finding_from_being_flagged() -> None:
    """Alone, a p-value of about 0.02 would be flagged at 5 %; among ten lots tested together it is what
    chance alone gives one lot in fifty, and Benjamini–Hochberg lifts it above the level."""
    borderline = _lot(1, 50, 6, 500, 20)
    [alone] = lot_signals([borderline], min_sessions=30, level=0.05)
    assert alone.p_value < 0.05 and alone.flagged
    others = [_lot(n, 50, 2, 500, 20) for n in range(2, 11)]
    tested = lot_signals([borderline, *others], min_sessions=30, level=0.05)
    [among] = [s for s in tested if s.figures.lot_id == 1]
    assert among.p_value == alone.p_value and among.q_value > 0.05 and not among.flagged


# --- from the records to the pages ------------------------------------------------------------------


@pytest.fixture
def config_overrides() -> dict[str, object]:
    return {"LOT_SIGNAL_MIN_SESSIONS": 4}


@pytest.fixture
def bad_batch(stock, staff):
    """Revita C Glow: lot L-VITAMINS used in 12 quiet sessions, lot L-BAD in 4 that all bruised (grade 2)."""
    good = stock["vitamins"]
    bad, _ = inventory.receive_lot(inventory.Receipt(
        product=good.product, lot_number="L-BAD", expiry_date=TODAY + timedelta(days=200), quantity=10,
        supplier="MedAesthetic Supplies", received_on=TODAY - timedelta(days=20),
        location=good.receipts[0].storage_location), staff["nurse"])
    db.session.commit()
    doctor = staff["doctor"]
    for n, lot in enumerate([good] * 8 + [bad] * 4):
        course = ready_course(staff, f"Patient{n}", "Batch")
        session = save(course, stock, doctor, when=NOW - timedelta(minutes=n), acknowledged=FIRST_TIME,
                       preparations=[treatments.PreparationInput("Vitamins", [
                           treatments.ComponentInput(lot.id, Decimal("3"))])],
                       injections=[treatments.InjectionInput("cheeks", 0, depth_mm=Decimal("1.5"),
                                                             volume_ml=Decimal("2.5"), points=50)])
        treatments.sign_session(session, doctor, PASSWORDS["doctor"])
        db.session.commit()
        if lot is bad:
            _side_effect(session, staff["nurse"], 2)
    return bad


def test_the_bad_batch_is_flagged_from_the_records(bad_batch, stock) -> None:
    found = {f.lot.lot_number: f.signal for f in lot_safety_signal(TODAY - timedelta(days=30), TODAY)}
    assert found["L-BAD"].flagged
    assert (found["L-BAD"].figures.sessions, found["L-BAD"].figures.signal) == (4, 4)
    assert (found["L-BAD"].figures.sibling_sessions, found["L-BAD"].figures.sibling_signal) == (8, 0)
    assert not found["L-VITAMINS"].flagged


def test_the_auditor_sees_the_flagged_lot_at_home_and_on_its_page_and_quarantines_it(
        bad_batch, clients, staff) -> None:
    home = clients["auditor"].get("/").get_data(as_text=True)
    assert 'id="home-flagged-lots"' in home and "L-BAD" in home and "higher than its siblings" in home
    lot_page = html.unescape(clients["auditor"].get(f"/inventory/lots/{bad_batch.id}").get_data(as_text=True))
    assert "Safety signal: over the last 365 days, 4 of this lot's 4 sessions (100.0 per 100)" in lot_page
    assert 'href="#quarantine"' in lot_page and 'id="quarantine"' in lot_page
    response = clients["auditor"].submit(f"/inventory/lots/{bad_batch.id}/quarantine",
                                         {"reason": "Safety signal: bruising in every session"})
    assert response.status_code == 302
    assert db.session.scalar(sa.select(LotHold).where(LotHold.lot_id == bad_batch.id)) is not None
    assert "Quarantine this lot" not in clients["auditor"].get("/").get_data(as_text=True).split(
        'id="home-flagged-lots"')[1].split("</table>")[0]


def test_only_readers_of_the_reports_see_the_signal(bad_batch, clients) -> None:
    assert "Safety signal" not in clients["admin"].get(f"/inventory/lots/{bad_batch.id}").get_data(as_text=True)
    assert "Safety signal" in clients["doctor"].get(f"/inventory/lots/{bad_batch.id}").get_data(as_text=True)
    assert 'id="home-lot-signal"' not in clients["doctor"].get("/").get_data(as_text=True)


def test_the_reports_page_shows_the_signal_for_its_range(bad_batch, clients) -> None:
    page = clients["nurse"].get("/reports?period=30").get_data(as_text=True)
    assert 'id="lot-signal"' in page and "higher than its siblings" in page
    assert "Quarantine this lot" not in page  # nurses do not place holds


def test_the_signal_reads_the_figures_of_the_period_only(bad_batch) -> None:
    long_ago = TODAY - timedelta(days=400)
    db.session.execute(sa.update(DailyFigure).values(day=long_ago))
    db.session.execute(sa.update(MonthlyFigure).values(month=long_ago.replace(day=1)))
    db.session.commit()
    assert lot_safety_signal(TODAY - timedelta(days=30), TODAY) == []
