from headrace.engine import component, pipeline


@component
def make() -> int:
    return 1


@component
def use(counts: dict[str, int]) -> int:
    return len(counts)


@pipeline
def mismatched():
    use(counts=make())
