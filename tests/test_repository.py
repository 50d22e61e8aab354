"""The repository keeps its promises: the README's commands are the ones CI runs, pins are pins."""

from __future__ import annotations

import re

from autograder.paths import REPO


def readme_commands() -> list[str]:
    """The one-line shell commands in the README's code blocks."""
    text = (REPO / "README.md").read_text()
    return [line.strip() for block in re.findall(r"```bash\n(.*?)```", text, re.S) for line in block.splitlines()]


def test_readme_has_exactly_one_learn_and_one_test_command():
    quick_start = (REPO / "README.md").read_text().split("## Quick start")[1].split("## ")[0]
    commands = re.findall(r"```bash\n(.*?)\n```", quick_start, re.S)
    assert len(commands) == 2, commands
    learn, test = commands
    assert "jupyter lab --LabApp.default_url=/lab/tree/notebooks/00-start-here/start-here.ipynb" in learn
    assert (REPO / "notebooks/00-start-here/start-here.ipynb").exists()
    assert "pytest" in test


def test_ci_runs_the_readme_test_command_verbatim():
    test_command = [c for c in readme_commands() if c.endswith("-m pytest")]
    assert len(test_command) == 1
    ci = (REPO / ".ci/run").read_text().splitlines()
    assert test_command[0] in ci, "the README's test command and .ci/run have drifted apart"


def test_every_requirement_is_pinned():
    for path in ["requirements.txt", "tests/requirements.txt"]:
        for line in (REPO / path).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith(("-r ", "-e ")):
                assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[\w.]+", line), f"{path}: {line!r} is not pinned"


def test_binder_installs_the_same_pins():
    assert "-r ../requirements.txt" in (REPO / "binder/requirements.txt").read_text()
    assert re.fullmatch(r"python-3\.1[1-9]\s*", (REPO / "binder/runtime.txt").read_text())
