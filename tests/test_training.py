"""`grade train`, and the validation split behind the validation curves: held out of the
training images, never the test set, measured by the grader after every epoch."""
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest

from grader import config
from grader.child.limits import Limits
from grader.grading import scoring
from helpers import GRADE, ROOT, SOLUTIONS

PLOTS = {"loss_curves.png", "accuracy_curves.png", "confusion_matrix.png", "per_digit_accuracy.png"}


@pytest.mark.slow
def test_grade_train_prints_validation_and_writes_its_plots_into_the_report_folder(tmp_path):
    proc = subprocess.run([*GRADE, "train", str(SOLUTIONS), "--course", str(ROOT / "course.yaml")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    course = config.load(ROOT / "course.yaml", "backprop")
    epochs = [line for line in proc.stdout.splitlines() if line.startswith("epoch")]
    assert len(epochs) == course.epochs and all("validation loss" in line for line in epochs), proc.stdout
    assert f"{course.validation:,} more held out for validation" in " ".join(proc.stderr.split())
    assert {p.name for p in tmp_path.iterdir()} == {"grade-report"}  # nothing in the folder it ran from
    assert {p.name for p in (tmp_path / "grade-report").iterdir()} == PLOTS
    assert "--out" in subprocess.run([*GRADE, "train", "--help"], capture_output=True, text=True).stdout


class Recorder:
    """Stands in for the Sandbox: records what training would be given, and reports epochs
    with fixed weights, as the child does."""
    seen = {}

    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def start(self):
        pass

    def weights(self, seed):
        rng = np.random.default_rng(seed)
        return {"W1": rng.normal(0, 0.05, (4, 784)), "b1": np.zeros((4, 1)),
                "W2": rng.normal(0, 1.0, (10, 4)), "b2": np.zeros((10, 1))}

    def train(self, sizes, budget, payload, on_epoch, network=None, norms_every=0):
        Recorder.seen = payload
        Recorder.params = self.weights(0)
        for epoch in range(1, budget["epochs"] + 1):
            on_epoch(epoch, Recorder.params)
        return self.returned(), {"train_loss": np.ones(budget["epochs"]),
                                 "train_accuracy": np.zeros(budget["epochs"])}, 0.1

    def returned(self):
        return Recorder.params

    def describe(self):
        return []


def test_the_validation_images_never_reach_training(monkeypatch):
    monkeypatch.setattr(scoring, "Sandbox", Recorder)
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (50, 784), dtype=np.uint8)
    labels = rng.integers(0, 10, 50)
    test_images, test_labels = rng.integers(0, 256, (7, 784), dtype=np.uint8), rng.integers(0, 10, 7)
    data = SimpleNamespace(train_images=images, train_labels=labels, test_images=test_images, test_labels=test_labels)
    course = SimpleNamespace(hidden_sizes=(4,), epochs=3, validation=12, limits=Limits(), isolation="off",
                             budget={"epochs": 3}, path=ROOT / "course.yaml", blanks={}, provided={},
                             network=config.Network())
    _, history, _, _ = scoring.train(SOLUTIONS, course, lambda: data)
    assert len(Recorder.seen["train_images"]) == 38 and np.array_equal(Recorder.seen["train_images"], images[:38])
    assert np.array_equal(Recorder.seen["train_labels"], labels[:38]) and set(Recorder.seen) == {"train_images",
                                                                                               "train_labels"}
    # measured on the 12 held-out training images, by the grader's own forward pass, each epoch
    X_val = images[38:].T.astype(np.float32) / np.float32(255)
    held_out = scoring.mean_loss(Recorder.params, X_val, labels[38:])
    on_test = scoring.mean_loss(Recorder.params, test_images.T.astype(np.float32) / 255, test_labels)
    assert abs(held_out - on_test) > 0.05  # test the tester: the two sets give different figures
    assert np.allclose(history["validation_loss"], held_out) and len(history["validation_loss"]) == 3
    accuracy = float((scoring.predict(Recorder.params, X_val) == labels[38:]).mean())
    assert np.allclose(history["validation_accuracy"], accuracy) and len(history["test_accuracy"]) == 3
    # without a split, training gets every image and there is no validation curve
    course.validation = 0
    _, history, _, _ = scoring.train(SOLUTIONS, course, lambda: data)
    assert len(Recorder.seen["train_images"]) == 50 and "validation_loss" not in history


class Switcher(Recorder):
    """A child whose last epoch sends other weights than the ones training returns."""

    def returned(self):
        return self.weights(1)


@pytest.mark.parametrize("child", [Recorder, Switcher])
def test_the_final_score_is_of_the_weights_training_returns(monkeypatch, child):
    # The last epoch's weights are scored as they arrive, and that score is reused only when
    # training returns the very same weights (scoring.train_and_score).
    monkeypatch.setattr(scoring, "Sandbox", child)
    rng = np.random.default_rng(2)
    test_images, test_labels = rng.integers(0, 256, (400, 784), dtype=np.uint8), rng.integers(0, 10, 400)
    data = SimpleNamespace(train_images=rng.integers(0, 256, (20, 784), dtype=np.uint8),
                           train_labels=rng.integers(0, 10, 20), test_images=test_images, test_labels=test_labels)
    course = SimpleNamespace(hidden_sizes=(4,), epochs=2, validation=0, limits=Limits(), isolation="off",
                             budget={"epochs": 2}, path=ROOT / "course.yaml", blanks={}, provided={},
                             network=config.Network(), reference=None)
    run = scoring.train_and_score(SOLUTIONS, course, lambda: data)
    X = test_images.T.astype(np.float64) / 255
    returned, last_epoch = child().returned(), Recorder().weights(0)
    accuracy = float((scoring.predict(returned, X) == test_labels).mean())
    other = float((scoring.predict(last_epoch, X) == test_labels).mean())
    assert run.accuracy == accuracy
    assert all(np.array_equal(run.params[k], returned[k]) for k in returned)
    if child is Switcher:
        assert other != accuracy  # test the tester: the last epoch's score would have been another
    assert run.history["test_accuracy"][-1] == other  # the curve: what the last epoch sent


def test_the_grader_cross_entropy_is_the_mean_negative_log_likelihood():
    params = {"W1": np.array([[1.0, 0.0], [0.0, 2.0], [0.5, 0.5]]), "b1": np.zeros((3, 1))}
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    labels = np.array([0, 1])
    z = params["W1"] @ X
    expected = -np.mean([np.log(np.exp(z[0, 0]) / np.exp(z[:, 0]).sum()),
                         np.log(np.exp(z[1, 1]) / np.exp(z[:, 1]).sum())])
    assert np.isclose(scoring.mean_loss(params, X, labels), expected)
    assert not np.isclose(scoring.mean_loss(params, X, labels[::-1]), expected)
