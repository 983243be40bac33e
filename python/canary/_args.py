"""Python arguments to the text the engine takes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TypeAlias

Instant: TypeAlias = str | dt.date | dt.datetime
Names: TypeAlias = str | Iterable[str]


def names(value: Names | None, what: str) -> list[str]:
    """One name or an iterable of names as a list (``"a"`` is ``["a"]``, not letters)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        items = list(value)
    except TypeError:
        raise TypeError(f"{what} must be a string or an iterable of strings, not {type(value).__name__}") from None
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{what} must hold strings, not {type(item).__name__}")
    return items


def instant(value: Instant | None, what: str) -> str | None:
    """A time as ISO text; naive datetimes are UTC, aware ones are converted to UTC."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{what} must be a string, date or datetime, not {type(value).__name__}")


def optional_text(value: str | None, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{what} must be a string or None, not {type(value).__name__}")
    return value
