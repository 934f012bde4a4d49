from headrace.engine import component


@component
def no_return_annotation(x: int):
    return x
