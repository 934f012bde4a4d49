"""A file with one @pipeline of its own that imports another is ambiguous to the loader."""

from pathlib import Path

from headrace.engine.definitions.loader import load_pipeline


def test_imported_pipeline_does_not_count():
    pipe = load_pipeline(str(Path(__file__).parent / "loaderfiles" / "mine.py"))
    assert pipe.name == "mine"
