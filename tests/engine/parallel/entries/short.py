"""Module-style entry that returns a plain list, one element short when a file is named short_*."""

_seen = []


def init():
    pass


def run(mini_batch):
    out = [p.name.upper() for p in mini_batch]
    if any(p.name.startswith("short_") for p in mini_batch):
        out = out[:-1]
    return out
