"""MNIST: train with the student's blanks for the course's budget; the grader scores the
returned weights itself on the test set, and checks that they came from that training."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from grader.data.mnist import DataError
from grader.grading.checks.common import failing
from grader.grading.gradcheck import CheckFailed, NotGraded
from grader.sandbox.process import StudentError

if TYPE_CHECKING:  # annotations only
    from grader.config import Course
    from grader.grading.vectors import Cases
    from grader.sandbox.process import Sandbox

pytestmark = pytest.mark.part("mnist")


def training_blanks(vectors: Cases, course: Course) -> list[str]:
    """The blanks training runs, in declaration order: those playing the network's roles (the loss
    aside: it is only plotted) and those the reference's role-playing blanks call (backward's
    helpers), as grade generate recorded them."""
    roles = course.network.trained_with(course.blanks)
    called = {fn for name in roles for fn, _, _ in vectors.calls.get(name, [])}
    return [name for name in course.blanks if name in roles | called]


def likely_causes(student: Sandbox, vectors: Cases, course: Course) -> str:
    """'relu, softmax fail their own checks, and training runs every one of them', or '' when
    every training blank passes its own value check. With a fresh budget: waiting for the
    training spent this check's (a timed-out training named every blank: red team)."""
    student.deadline = time.monotonic() + course.limits.check_seconds
    bad = failing(student, vectors, course.value_rel_error, training_blanks(vectors, course))
    if not bad:
        return ""
    verb = "fails its" if len(bad) == 1 else "fail their"
    return f"{', '.join(bad)} {verb} own checks, and training runs every one of them"


@pytest.mark.points(25)
@pytest.mark.blanks()  # earned by training, which no answer key can do
def test_mnist_accuracy(mnist_run, student, vectors, course, note):
    """training with your blanks reaches the course's test accuracy"""
    try:
        run = mnist_run()
    except DataError as exc:  # the data's absence is the machine's, never the student's
        raise NotGraded(f"not graded: no MNIST data to train on.\n{exc}") from None
    except StudentError as exc:
        cause = likely_causes(student, vectors, course)
        if not cause:
            raise
        raise StudentError(exc.kind, f"{exc.args[0]} (likely cause: {cause})", exc.where) from None
    note(f"test accuracy {run.accuracy:.4f}")
    if run.distance is None:
        note(
            "the weights were not compared with the reference's (no reference solution here); "
            "official grading does compare them"
        )
    else:
        note(
            f"relative distance of the trained weights from the reference's: {run.distance:.3g} "
            f"(at most {course.mnist_weight_distance:g} passes; correct blanks, however written, land "
            "within it)"
            if run.distance
            else "the trained weights are exactly the reference's (relative distance 0)"
        )
    far = run.distance is not None and run.distance > course.mnist_weight_distance
    if not far and run.accuracy >= course.mnist_accuracy:
        return
    cause = likely_causes(student, vectors, course)
    cause = (
        f" Likely cause: {cause}."
        if cause
        else " Every blank training uses passes its public value checks, so one of them behaves differently "
        "on MNIST's batches (float32 arrays of 784 x 32, many at once) than on those checks' small float64 "
        "inputs, or is right only on them."
    )
    if far:
        raise CheckFailed(
            f"training with your blanks went somewhere else than the reference's: from the same start on the "
            f"same batches its weights end {run.distance:.2f} (relative distance) from the reference's, and "
            f"correct blanks, however written, end within {course.mnist_weight_distance:g} (test accuracy "
            f"{run.accuracy:.4f}).{cause}"
        )
    raise CheckFailed(
        f"test accuracy {run.accuracy:.4f} is below the course's threshold "
        f"{course.mnist_accuracy:g} (trained {course.epochs} epochs, lr {course.learning_rate:g}, "
        f"batch {course.batch_size}).{cause}"
    )
