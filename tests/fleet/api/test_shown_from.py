"""Public views read off records: fields by name from the first source that has them, values
given over them, and a field found nowhere an error rather than a silent default."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from pydantic import BaseModel

from fleet.api.schemas import shown_from


@dataclass
class Row:
    name: str
    count: int
    note: str


@dataclass
class Plan:
    count: int
    limit: float


class View(BaseModel):
    name: str
    count: int
    limit: float
    shown: str


def test_fields_come_from_the_first_source_that_has_them_and_values_win() -> None:
    view = shown_from(View, Row("ct-01", 3, "x"), Plan(99, 0.5), shown="yes")
    assert view == View(name="ct-01", count=3, limit=0.5, shown="yes")
    assert shown_from(View, Row("ct-01", 3, "x"), Plan(99, 0.5), count=7, shown="").count == 7


def test_a_field_found_nowhere_is_an_error() -> None:
    with pytest.raises(AttributeError, match=r"View\.limit"):
        shown_from(View, Row("ct-01", 3, "x"), shown="yes")
