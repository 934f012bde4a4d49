"""One pipeline, with a helper module next to it (imported by path)."""

from helper_mod import factor_of  # noqa: F401  (proves the file's folder is importable)

from headrace.engine import component, get_run_context, pipeline


@component
def square(x: int) -> int:
    get_run_context().log("x", x)
    return x * x


@component
def fail_if(value: int, limit: int = 100) -> int:
    if value > limit:
        raise RuntimeError(f"value {value} is over the limit {limit}")
    return value


@pipeline(name="squares")
def squares(x: int = 3, limit: int = 100):
    return {"result": fail_if(value=square(x=x), limit=limit)}
