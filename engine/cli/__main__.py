"""``python -m headrace.engine.cli``: the ``headrace`` command."""

from . import main

main()
