"""A helper module the pipeline file imports."""


def factor_of(x: int) -> int:
    return 2 * x
