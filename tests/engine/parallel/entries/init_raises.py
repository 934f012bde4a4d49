"""An entry whose init() raises: the step must fail quickly with this traceback."""


def init():
    raise RuntimeError("the model file is corrupt")


def run(mini_batch):
    return list(mini_batch)
