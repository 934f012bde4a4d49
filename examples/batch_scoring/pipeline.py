"""Batch scoring of image files: train a digits classifier, score every PNG in a folder.

    python examples/batch_scoring/make_images.py data/images 200
    headrace run examples/batch_scoring/pipeline.py --param images=data/images
    headrace runs batches RUN score          # every mini-batch: items, status, worker, ...

Run it again after adding files: only the new (or changed) files are scored, and the results
table still holds every file. With a data-change schedule the daemon does that on its own
(see README.md beside this file). ``images`` is a ``str`` on purpose: a schedule gives a
``Path`` parameter only the files of its firing, and this pipeline wants the whole folder
(the step still fingerprints the folder by content).
"""

from typing import Annotated

from headrace.engine import component, get_run_context, parallel_run, pipeline


@component
def train_digits(neighbors: int = 3) -> Annotated[object, "model"]:
    """A k-nearest-neighbours classifier of sklearn's 8x8 digits."""
    from sklearn.datasets import load_digits
    from sklearn.neighbors import KNeighborsClassifier

    digits = load_digits()
    model = KNeighborsClassifier(n_neighbors=neighbors).fit(digits.data, digits.target)
    get_run_context().log("training_rows", len(digits.target))
    return model


score = parallel_run(
    entry="score.py",
    name="score",
    mini_batch_size=10,
    error_threshold=10,  # a few unreadable files are tolerated; more fail the step
    run_invocation_timeout=60,
    glob="*.png",
    append_row_file_name="scores.csv",
)


@pipeline(name="batch-scoring")
def batch_scoring(images: str, batch_size: int = 10, neighbors: int = 3):
    model = train_digits(neighbors=neighbors)
    scored = score(data=images, model_in=model, mini_batch_size=batch_size)
    return {"scores": scored.outputs.results, "scores_csv": scored.outputs.results_file}


if __name__ == "__main__":
    import sys

    run = batch_scoring.submit(
        params={"images": sys.argv[1] if len(sys.argv) > 1 else "data/images"}
    )
    print(run.status, run.steps["score"].metrics)
