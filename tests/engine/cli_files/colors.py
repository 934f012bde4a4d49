"""A pipeline with Enum and Literal parameters."""

from enum import Enum
from typing import Literal

from headrace.engine import component, pipeline


class Color(Enum):
    RED = "red"
    BLUE = "blue"


@component
def paint(color: Color, finish: Literal["matte", "gloss"] = "matte") -> str:
    return f"{color.value}/{finish}"


@pipeline
def colors(color: Color = Color.RED, finish: Literal["matte", "gloss"] = "matte"):
    return {"paint": paint(color=color, finish=finish)}
