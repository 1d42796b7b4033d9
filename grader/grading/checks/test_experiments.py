"""The experiments (course.yaml's experiments; grader/grading/experiments.py): each runs the notes'
comparison with the student's blanks. Graded on running to completion with blanks that pass
their own checks (zeros complete every run, and show nothing), never on what the
plots show: the page shows them, with what to look for."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

import pytest

from grader.data.mnist import DataError
from grader.grading.checks.common import failing
from grader.grading.gradcheck import CheckFailed, NotGraded

if TYPE_CHECKING:
    from grader.config import Experiment


def used(spec: Experiment, blanks: Collection[str]) -> list[str]:
    """The blanks an experiment's runs train with, in the order course.yaml declares them."""
    names = set().union(*(network.trained_with(blanks) for _, network in spec.runs))
    return [name for name in blanks if name in names]


def cases(experiments: Sequence[Experiment], blanks: Collection[str]) -> list[pytest.ParameterSet]:
    """test_experiment's cases: one per experiment, in the experiments part. Each vouches for the
    blanks its runs train with, so that a blank wrong on the hidden inputs withholds it too."""
    return [
        pytest.param(
            spec.id,
            f'the experiment "{spec.title}" runs to completion with your blanks',
            id=spec.id,
            marks=[
                pytest.mark.part("experiments"),
                pytest.mark.points(spec.points),
                pytest.mark.blanks(*used(spec, blanks)),
            ],
        )
        for spec in experiments
    ]


def test_experiment(experiment, what, experiments_run, student, vectors, course):
    """{what}"""
    [spec] = [e for e in course.experiments if e.id == experiment]
    # An experiment shows the notes' point only with blanks that compute what they should: run with
    # zeros, it "completes" and shows nothing (red team: 30 points for all-zero blanks).
    wrong = failing(student, vectors, course.value_rel_error, used(spec, course.blanks))
    if wrong:
        raise CheckFailed(
            f"not graded: this experiment trains with {', '.join(wrong)}, which "
            f"{'fails its' if len(wrong) == 1 else 'fail their'} own checks: it counts once "
            f"{'it computes' if len(wrong) == 1 else 'they compute'} what the notes say"
        )
    try:
        done = experiments_run()[experiment]
    except DataError as exc:  # the data's absence is the machine's, never the student's
        raise NotGraded(f"not graded: no MNIST data to train on.\n{exc}") from None
    failed = [run for run in done.runs if run.error]
    if failed:
        raise CheckFailed(
            "\n".join(f"the run {run.label!r} did not complete: {run.error}" for run in failed)
            + "\n(each run trains the network with your blanks in the roles it names, and the assignment's own "
            "network.py in the others; your blanks pass their own checks, so look at what the message names)"
        )
