"""Migrations: one head; empty -> head gives exactly the models' schema and the frozen seed rows;
downgrade works (D7); no migration imports the application."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import downgrade, upgrade

from clinic import create_app
from clinic.extensions import db
from clinic.records.patients.search import is_search_table
from clinic.records.screening import services as screening_services
from clinic.records.screening.models import ContraindicationRule, Screening
from clinic.records.treatments import services as treatments
from clinic.records.treatments.models import Course
from tests.conftest import DATABASE_URL, ON_POSTGRES, create_staff, make_config
from tests.factories import AREAS, INDICATION, TODAY, record_history, register, screen, sign_consent

# Each test builds its own app on a database of its own (``empty_app``), never the shared one.
pytestmark = pytest.mark.commits


@pytest.fixture
def empty_app(tmp_path) -> Iterator[Flask]:
    """An app on a brand-new, empty database (not the shared test schema)."""
    if ON_POSTGRES:
        url = sa.engine.make_url(DATABASE_URL)
        name = f"{url.database}_migrations"
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        uri = url.set(database=name).render_as_string(hide_password=False)
    else:
        uri = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    app = create_app(make_config(uri))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    if ON_POSTGRES:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _outside_the_models(name, type_, parent_names) -> bool:
    """SQLite's FTS5 search tables live in the migrations only, never in the models."""
    return not (type_ == "table" and name and is_search_table(name))


def _schema_diff() -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": _outside_the_models}
        )
        return compare_metadata(context, db.metadata)


def test_there_is_exactly_one_head(empty_app: Flask) -> None:
    script = ScriptDirectory.from_config(empty_app.extensions["migrate"].migrate.get_config())
    assert len(script.get_heads()) == 1


def test_upgrading_an_empty_database_gives_the_models_schema(empty_app: Flask) -> None:
    upgrade()
    assert _schema_diff() == []


def test_downgrading_to_base_then_upgrading_again_works(empty_app: Flask) -> None:
    upgrade()
    downgrade(revision="base")
    tables = set(sa.inspect(db.engine).get_table_names())
    assert tables <= {"alembic_version"}
    upgrade()
    assert _schema_diff() == []


def test_the_audit_triggers_come_with_the_migration(empty_app: Flask) -> None:
    upgrade()
    with db.engine.connect() as conn:
        if ON_POSTGRES:
            names = set(conn.execute(sa.text(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_event'::regclass AND NOT tgisinternal"
            )).scalars())
            assert names == {"audit_event_no_update_delete", "audit_event_no_truncate"}
        else:
            names = set(conn.execute(sa.text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_event'"
            )).scalars())
            assert names == {"audit_event_no_update", "audit_event_no_delete"}


def test_areas_and_indications_move_between_codes_and_rows_both_ways(empty_app: Flask) -> None:
    """0008 turns space-separated codes into rows keyed to the catalogue; a downgrade and a new upgrade
    carry a course's, a screening's and a rule's codes there and back without losing one."""
    upgrade()
    staff = create_staff()
    patient = register(staff["nurse"])
    record_history(patient, staff["nurse"])
    sign_consent(patient, staff["nurse"])
    screening = screen(patient, staff["nurse"], areas=("forehead", "cheeks", "chin"))
    course = treatments.plan_course(patient, treatments.CourseInput(INDICATION, AREAS, starts_on=TODAY),
                                    staff["doctor"])
    rule = screening_services.save_rule(None, screening_services.RuleInput(
        code="recent_peel", question="A chemical peel in the last two weeks?", kind="warning", trigger="question",
        indications=["skin_rejuvenation", "hair_loss"], areas=["neck", "cheeks"]))
    db.session.commit()
    ids = {"course": course.id, "screening": screening.id, "contraindication_rule": rule.id}
    db.session.remove()

    downgrade(revision="0007")
    with db.engine.connect() as conn:
        def text(table: str, column: str) -> str:
            return conn.execute(sa.text(f"SELECT {column} FROM {table} WHERE id = {ids[table]}")).scalar_one()
        assert text("course", "areas") == "cheeks forehead"
        assert text("screening", "areas") == "cheeks chin forehead"
        assert text("contraindication_rule", "areas") == "cheeks neck"
        assert text("contraindication_rule", "indications") == "hair_loss skin_rejuvenation"
        assert text("contraindication_rule", "code") == "recent_peel"
        unlimited = conn.execute(sa.text("SELECT areas, indications FROM contraindication_rule "
                                         "WHERE code = 'pregnancy'")).one()
        assert tuple(unlimited) == ("", "")

    upgrade()
    assert db.session.get(Course, ids["course"]).area_codes == ["cheeks", "forehead"]
    assert db.session.get(Screening, ids["screening"]).area_codes == {"cheeks", "chin", "forehead"}
    rule = db.session.get(ContraindicationRule, ids["contraindication_rule"])
    assert (rule.indication_codes, rule.area_codes) == ({"hair_loss", "skin_rejuvenation"}, {"cheeks", "neck"})
    assert _schema_diff() == []


def test_amended_values_move_into_the_record_and_back(empty_app: Flask) -> None:
    """0010: the record holds an amended field's latest value (a downgrade puts back the value as signed),
    and the signature still holds either way."""
    from decimal import Decimal

    from clinic.inventory import services as inventory
    from clinic.inventory.models import Ingredient
    from clinic.records.treatments.models import InjectionLog
    from tests.conftest import PASSWORDS
    from tests.factories import entry

    upgrade()
    staff = create_staff()
    patient = register(staff["nurse"])
    record_history(patient, staff["nurse"])
    sign_consent(patient, staff["nurse"])
    screen(patient, staff["nurse"])
    vitamin_c = db.session.scalar(sa.select(Ingredient).where(Ingredient.name == "Vitamin C"))
    product = inventory.create_product(inventory.ProductDetails(
        name="Revita C Glow", manufacturer="Lumea", kind="vitamin_cocktail", unit="vial", volume_ml=Decimal("5"),
        gtin="", ingredient_ids=[vitamin_c.id]))
    lot, _ = inventory.receive_lot(inventory.Receipt(
        product=product, lot_number="L-1", expiry_date=TODAY + timedelta(days=200), quantity=5, supplier="S",
        received_on=TODAY - timedelta(days=3), location=inventory.create_location("Fridge", "fridge")), staff["nurse"])
    course = treatments.plan_course(patient, treatments.CourseInput(INDICATION, AREAS, starts_on=TODAY),
                                    staff["doctor"])
    stock = {"vitamins": lot}
    session = treatments.save_session(course, entry(stock, preparations=[treatments.PreparationInput(
        "Glow", [treatments.ComponentInput(lot.id, Decimal("4"))])], acknowledged=["first_time_no_patch_test"]),
        staff["doctor"])
    treatments.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    cheeks = session.injections[0]
    treatments.amend_session(session, staff["doctor"], cheeks, "volume_ml", "2.2", "typo", PASSWORDS["doctor"])
    db.session.commit()
    ids = (session.id, cheeks.id)
    db.session.remove()

    def volume() -> Decimal:
        with db.engine.connect() as conn:
            return Decimal(str(conn.execute(sa.text(f"SELECT volume_ml FROM injection_log WHERE id = {ids[1]}")).scalar()))

    assert volume() == Decimal("2.2")
    downgrade(revision="0009")
    assert volume() == Decimal("2.5"), "0009 kept the value as signed in the record"
    upgrade()
    assert volume() == Decimal("2.2")
    from clinic.records.treatments.models import TreatmentSession

    assert treatments.signature_intact(db.session.get(TreatmentSession, ids[0]))
    assert db.session.get(InjectionLog, ids[1]).volume_ml == Decimal("2.2")


# Every row an empty database holds after upgrading to head, dumped from the migrations as they
# seeded them before the seeds were frozen as literals (commit 096125f). Existing databases hold
# these rows: a fresh upgrade must give exactly the same, whatever the application's defaults say.
SEED_ROWS = Path(__file__).parent / "data" / "migration_seed_rows.json"
VERSIONS = Path(__file__).parents[1] / "migrations" / "versions"


def _rows_at_head() -> dict[str, list[dict[str, object]]]:
    metadata = sa.MetaData()
    metadata.reflect(db.engine)
    dump = {}
    with db.engine.connect() as conn:
        for name, table in sorted(metadata.tables.items()):
            if name == "alembic_version" or is_search_table(name):
                continue
            rows = [dict(row) for row in conn.execute(
                sa.select(table).order_by(*table.primary_key.columns)).mappings()]
            for row in rows:
                if row.get("created_at") is not None:
                    row["created_at"] = "<now>"  # the time of the upgrade
            if rows:
                dump[name] = rows
    return json.loads(json.dumps(dump, default=str))  # numeric ranges (Decimal) as text


def test_upgrading_an_empty_database_seeds_exactly_the_frozen_rows(empty_app: Flask) -> None:
    upgrade()
    expected = json.loads(SEED_ROWS.read_text(encoding="utf-8"))
    rows = _rows_at_head()
    assert sorted(rows) == sorted(expected), "the tables that migrations seed"
    for name, table_rows in expected.items():
        assert rows[name] == table_rows, name


def test_no_migration_imports_the_application() -> None:
    """Migrations run against the code of the day they are applied: seeds are literals, never
    today's defaults or services."""
    scripts = sorted(VERSIONS.glob("*.py"))
    assert scripts
    for script in scripts:
        for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                assert module.split(".")[0] in {"alembic", "sqlalchemy"}, f"{script.name} imports {module}"
