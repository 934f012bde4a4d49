"""Two pipelines: the CLI must be told which."""

from headrace.engine import component, pipeline


@component
def hello(name: str = "world") -> str:
    return f"hello {name}"


@pipeline(name="greet-first")
def first(name: str = "a"):
    return {"g": hello(name=name)}


@pipeline(name="greet-second")
def second(name: str = "b"):
    return {"g": hello(name=name)}
