"""A pipeline that sleeps, for Ctrl-C tests."""

import time

from headrace.engine import component, pipeline


@component
def nap(seconds: float = 30.0) -> float:
    time.sleep(seconds)
    return seconds


@pipeline
def sleepy(seconds: float = 30.0):
    first = nap(seconds=seconds)
    return {"s": nap(seconds=first)}
