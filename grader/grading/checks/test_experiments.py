"""The experiments (course.yaml's experiments; grader/experiments.py): each runs the notes'
comparison with the student's blanks. Graded on running to completion, never on what the
plots show: the page shows them, with what to look for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest

from grader.data.mnist import DataError
from grader.grading.gradcheck import CheckFailed, NotGraded

if TYPE_CHECKING:
    from grader.config import Experiment


def cases(experiments: Sequence[Experiment]) -> list[pytest.ParameterSet]:
    """test_experiment's cases: one per experiment, in the experiments part, earned by running."""
    return [
        pytest.param(
            spec.id,
            f'the experiment "{spec.title}" runs to completion with your blanks',
            id=spec.id,
            marks=[pytest.mark.part("experiments"), pytest.mark.points(spec.points), pytest.mark.blanks()],
        )
        for spec in experiments
    ]


def test_experiment(experiment, what, experiments_run):
    """{what}"""
    try:
        done = experiments_run()[experiment]
    except DataError as exc:  # the data's absence is the machine's, never the student's
        raise NotGraded(f"not graded: no MNIST data to train on.\n{exc}") from None
    failed = [run for run in done.runs if run.error]
    if failed:
        raise CheckFailed(
            "\n".join(f"the run {run.label!r} did not complete: {run.error}" for run in failed)
            + "\n(each run trains the network with your blanks in the roles it names, and the assignment's own "
            "network.py in the others)"
        )
