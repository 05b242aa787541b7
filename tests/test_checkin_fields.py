"""A check-in's fields are declared once (services.core.models.CheckIn): the station and the contract carry them all."""

from __future__ import annotations

import dataclasses
from typing import get_type_hints

from appliance.contract import shapes
from services.core.models import LIVE_FIELDS, REPORTED_FIELDS, STOCK_FIELDS, CheckIn, Station


def test_a_station_keeps_every_field_a_check_in_stores() -> None:
    assert set(REPORTED_FIELDS) <= {item.name for item in dataclasses.fields(Station)}


def test_the_admin_contract_shows_every_stored_field() -> None:
    assert set(REPORTED_FIELDS) <= set(get_type_hints(shapes.Station))


def test_the_groups_are_of_the_check_in() -> None:
    everything = {item.name for item in dataclasses.fields(CheckIn)}
    assert set(LIVE_FIELDS) < set(REPORTED_FIELDS) < everything
    assert set(STOCK_FIELDS) < set(REPORTED_FIELDS)
    assert "config_etag" not in REPORTED_FIELDS
    assert "mac" not in REPORTED_FIELDS
