"""Finding one row by its key, or the fleet's not-found error naming it."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import Session

from fleet.errors import NotFoundError

Row = TypeVar("Row")


def found(
    session: Session,
    model: type[Row],
    key: Any,
    missing: str,
    *,
    error: type[NotFoundError] = NotFoundError,
) -> Row:
    """The row of ``model`` with this primary key; ``error(missing)`` if there is none."""
    row = session.get(model, key)
    if row is None:
        raise error(missing)
    return row
