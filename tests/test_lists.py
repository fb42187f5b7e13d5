"""``load_lists``: several lists of records in one statement give what their own queries would."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from clinic.core.lists import Listing, ListsQuery, load_lists
from clinic.extensions import db
from clinic.inventory.models import Ingredient, Product, ProductIngredient
from clinic.records.catalogue.models import Area, Condition
from tests.conftest import ON_POSTGRES


def test_each_list_comes_back_whole_in_its_own_order_in_one_statement(app, stock, count_queries) -> None:
    expected = (
        list(db.session.scalars(sa.select(Area).where(Area.region == "face")
                                .order_by(Area.sort_order.desc(), Area.code))),
        [],
        list(db.session.scalars(sa.select(Condition).order_by(Condition.name))),
        list(db.session.scalars(sa.select(Product).order_by(Product.name.desc()))),
    )
    assert expected[0] and expected[2] and len(expected[3]) >= 2  # the catalogues are seeded, the stock received
    db.session.expire_all()
    with count_queries() as statements:
        areas, nothing, conditions, products = load_lists(
            Listing(Area, [Area.region == "face"], order_by=lambda area: [area.sort_order.desc(), area.code]),
            Listing(Ingredient, [Ingredient.id < 0]),
            Listing(Condition, [], order_by=lambda condition: [condition.name]),
            # A joined collection repeats its product's row: each product still comes back once.
            Listing(Product, [], order_by=lambda product: [product.name.desc()],
                    options=lambda product: [joinedload(product.ingredients)
                                             .joinedload(ProductIngredient.ingredient)]),
        )
        ingredient_names = [[link.ingredient.name for link in product.ingredients] for product in products]
    assert len(statements) == 1
    assert (areas, nothing, conditions, products) == expected
    assert all(ingredient_names) and all(
        names == [link.ingredient.name for link in product.ingredients]
        for names, product in zip(ingredient_names, expected[3], strict=True))


def test_a_query_built_once_answers_for_each_value_of_its_parameters(app, count_queries) -> None:
    built = []

    def listings() -> list[Listing]:
        built.append(1)
        region = sa.bindparam("region")
        return [Listing(Area, [Area.region == region], order_by=lambda area: [area.code]),
                Listing(Condition, [Condition.code.in_(sa.bindparam("codes", expanding=True))],
                        order_by=lambda condition: [condition.code])]

    query = ListsQuery(listings)
    some_condition = db.session.scalars(sa.select(Condition.code).order_by(Condition.code)).first()
    for region in ("face", "body"):
        expected = list(db.session.scalars(sa.select(Area).where(Area.region == region).order_by(Area.code)))
        assert expected
        with count_queries() as statements:
            areas, conditions = query.load(region=region, codes=[some_condition])
        assert areas == expected and [c.code for c in conditions] == [some_condition]
        assert len(statements) == 1
    assert query.load(region="nowhere", codes=[]) == [[], []]
    assert len(built) == 1


@pytest.mark.skipif(not ON_POSTGRES, reason="server-side prepared statements are PostgreSQL's")
def test_on_postgresql_a_page_lists_statement_is_prepared_and_no_other_is(app) -> None:
    query = ListsQuery(lambda: [Listing(Area, [Area.region == sa.bindparam("region")]),
                                Listing(Condition, [])])
    search = sa.select(Area.code).where(Area.name.ilike("%fore%"))
    for region in ("face", "body", "face"):
        query.load(region=region)
        db.session.execute(search).all()
    prepared = db.session.scalars(sa.text("SELECT statement FROM pg_prepared_statements")).all()
    # Once, used again for each region (the connection may hold other pages' lists from earlier tests).
    assert len([text for text in prepared if "FULL OUTER JOIN" in text and "area.region" in text]) == 1
    # Not the repeated search: its plan must see its own pattern.
    assert not [text for text in prepared if "ILIKE" in text.upper()], prepared
