"""The CLI's JSON output: strict JSON, which every parser reads.

Python's ``json`` writes NaN and infinities as the bare words ``NaN`` and ``Infinity``,
which strict parsers (``jq``, JavaScript, Go) refuse; here they are the strings
``"NaN"``, ``"Infinity"`` and ``"-Infinity"``. Values JSON has no type for are their text.
"""

from __future__ import annotations

import json
import math
from typing import Any


def dumps(value: Any, indent: int | None = 2) -> str:
    """``value`` as strict JSON (see the module docstring)."""
    return json.dumps(_finite(value), indent=indent, default=str, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
