"""A writer for the gc-vs-reuse test: many runs whose steps reuse or deduplicate artifacts."""

import sys

from headrace.engine import HeadraceError, Status, Workspace, component, pipeline


@component
def make(n: int) -> str:
    return "x" * (2000 + n % 3)  # few distinct files: outputs deduplicate onto stored copies


@component
def grow(text: str) -> str:
    return text + "!"


@pipeline(name="reuse-writer")
def flow(n: int = 0):
    return {"out": grow(text=make(n=n))}


if __name__ == "__main__":
    ws = Workspace(sys.argv[1])
    failures = []

    def watch(step, status, info):
        if status == Status.FAILED:  # seen as it happens: gc may forget the run right after
            failures.append(f"{step}: {info.get('error')}")
            print(failures[-1], flush=True)

    for i in range(int(sys.argv[2])):
        try:
            flow.submit(params={"n": i % 5}, workspace=ws, on_event=watch)
        except HeadraceError as exc:  # finished, then forgotten by gc --keep-last at once
            assert "no run has the id" in str(exc), exc
    sys.exit(1 if failures else 0)
