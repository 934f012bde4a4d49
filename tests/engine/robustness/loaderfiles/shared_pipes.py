from headrace.engine import component, pipeline


@component
def double(x: float) -> float:
    return 2 * x


@pipeline
def base(x: float = 1.0):
    return {"y": double(x=x)}
