from shared_pipes import base  # a ready-made pipeline reused as a sub-pipeline

from headrace.engine import pipeline


@pipeline
def mine(x: float = 2.0):
    return {"y": base(x=x).outputs.y}
