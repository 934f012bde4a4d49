"""An entry whose init() ends the worker process."""

import os


def init():
    os._exit(5)


def run(mini_batch):
    return list(mini_batch)
