"""Durations written as a count and a unit ("30s", "5m", "1.5h", "30d", "1w", "1mo"): one parser.

``headrace gc --older-than``, the scheduler's ``--every``, ``--poll`` and ``--settle`` all read
durations here, so every option accepts the same spellings. It lives in the store, the lowest
layer that both the CLI and the store's own housekeeping reach.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["SECONDS", "UNITS", "Duration", "parse_duration", "seconds"]

#: Every accepted spelling of a unit (any case) -> its canonical name.
UNITS: dict[str, str] = {
    **dict.fromkeys(("ms", "msec", "millisecond", "milliseconds"), "ms"),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), "s"),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), "m"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "h"),
    **dict.fromkeys(("d", "day", "days"), "d"),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), "w"),
    **dict.fromkeys(("mo", "mon", "month", "months"), "mo"),
}
#: Seconds per canonical unit; a month ("mo") has no fixed length and is not here.
SECONDS: dict[str, float] = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}
_TEXT = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)?\s*([A-Za-z]+)?\s*")


@dataclass(frozen=True)
class Duration:
    """An amount of a unit, e.g. ``Duration(30.0, "m")``.

    Attributes:
        amount: How many units (0 or more).
        unit: The canonical unit: "ms", "s", "m", "h", "d", "w" or "mo".
    """

    amount: float
    unit: str

    @property
    def seconds(self) -> float:
        """The length in seconds.

        Raises:
            ValueError: The unit is months, whose length varies.
        """
        if self.unit not in SECONDS:
            raise ValueError(
                f"{self.amount:g}{self.unit} has no fixed length in seconds (months vary); "
                "give days or weeks, e.g. 30d"
            )
        return self.amount * SECONDS[self.unit]


def parse_duration(
    text: str, *, default_unit: str | None = None, default_amount: float | None = None
) -> Duration:
    """Read "30m", "1.5h", "15 min", " 3 Days ", "250ms" or "1mo" (units in any case).

    Args:
        text: The duration.
        default_unit: The unit of a bare number ("30" is 30 s with "s"); None: a unit is needed.
        default_amount: The amount of a bare unit ("day" is 1 day with 1); None: an amount is needed.

    Raises:
        ValueError: ``text`` is not a count and a known unit.
    """
    match = _TEXT.fullmatch(text) if isinstance(text, str) else None
    number, word = (match[1], match[2]) if match else (None, None)
    unit = UNITS.get(word.lower()) if word else default_unit
    amount = float(number) if number else default_amount
    if match is None or unit is None or amount is None or (word is None and number is None):
        raise ValueError(
            f"{text!r} is not a duration; give a count and a unit such as 250ms, 30s, 5m, 12h, "
            "30d or 1w"
        )
    return Duration(amount, unit)


def seconds(value: str | float, default_unit: str | None = None) -> float:
    """Seconds in ``value``: a duration text (see ``parse_duration``) or a number of seconds.

    Args:
        value: "30s", "5m", "30d"..., or an int or float of 0 or more.
        default_unit: The unit of a bare number in text ("30" with "s").

    Raises:
        ValueError: Not a duration, negative, or in months.
    """
    if isinstance(value, str):
        return parse_duration(value, default_unit=default_unit).seconds
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{value!r} is not a duration; give 0 or more seconds")
    return float(value)
