"""The git state read ahead, in a thread, while a submit traces its pipeline."""

from __future__ import annotations

import subprocess
from pathlib import Path

from headrace.engine.execution.provenance import GitLookup, git_state


def _repo(folder: Path) -> Path:
    folder.mkdir()
    (folder / "f.py").write_text("X = 1\n")
    for args in (
        ["init", "-q"],
        ["add", "."],
        ["-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qm", "first"],
    ):
        subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)
    return folder


def test_the_state_read_ahead_is_the_state_of_its_folder(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    ahead = GitLookup(repo)
    assert ahead.state(repo) == git_state(repo) != {}
    (repo / "f.py").write_text("X = 2\n")  # read again for another call: now dirty
    assert GitLookup(repo).state(repo)["dirty"] is True


def test_another_folder_or_none_is_read_when_asked(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    outside = tmp_path / "outside"
    outside.mkdir()
    assert GitLookup(repo).state(outside) == {}  # not a repository
    assert GitLookup(None).state(repo) == git_state(repo)
