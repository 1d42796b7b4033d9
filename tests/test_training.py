"""`grade train`, and the validation split behind the validation curves: held out of the
training images, never the test set, measured by the grader after every epoch."""
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest

from grader import config, scoring
from helpers import GRADE, ROOT, SOLUTIONS

PLOTS = {"loss_curves.png", "accuracy_curves.png", "confusion_matrix.png", "per_digit_accuracy.png"}


@pytest.mark.slow
def test_grade_train_prints_validation_and_writes_its_plots_into_the_report_folder(tmp_path):
    proc = subprocess.run([*GRADE, "train", str(SOLUTIONS), "--course", str(ROOT / "course.yaml")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    course = config.load(ROOT / "course.yaml")
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

    def __init__(self, *args):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def train(self, sizes, budget, payload, on_epoch):
        Recorder.seen = payload
        rng = np.random.default_rng(0)
        params = {"W1": rng.normal(0, 0.01, (4, 784)), "b1": np.zeros((4, 1)), "W2": rng.normal(0, 0.01, (10, 4)),
                  "b2": np.zeros((10, 1))}
        for epoch in range(1, budget["epochs"] + 1):
            on_epoch(epoch, params)
        return params, {"train_loss": np.ones(budget["epochs"]), "train_accuracy": np.zeros(budget["epochs"])}, 0.1

    def describe(self):
        return []


def test_the_validation_images_never_reach_training(monkeypatch):
    monkeypatch.setattr(scoring, "Sandbox", Recorder)
    images = np.arange(50 * 784, dtype=np.uint8).reshape(50, 784) % 251
    labels = np.arange(50) % 10
    data = SimpleNamespace(train_images=images, train_labels=labels, test_images=images[:7], test_labels=labels[:7])
    course = SimpleNamespace(hidden_sizes=(4,), epochs=3, validation=12, limits=None, isolation="off",
                             budget={"epochs": 3}, path=ROOT / "course.yaml")
    _, history, _, _ = scoring.train(SOLUTIONS, course, data)
    assert len(Recorder.seen["train_images"]) == 38 and np.array_equal(Recorder.seen["train_images"], images[:38])
    assert np.array_equal(Recorder.seen["train_labels"], labels[:38]) and set(Recorder.seen) == {"train_images",
                                                                                               "train_labels"}
    # uniform predictions over 10 classes: cross-entropy log(10) (weights near 0), each epoch
    assert len(history["validation_loss"]) == 3 and np.allclose(history["validation_loss"], np.log(10), atol=0.05)
    assert len(history["validation_accuracy"]) == 3 and len(history["test_accuracy"]) == 3
    # test the tester: without a split, training gets every image and there is no validation curve
    course.validation = 0
    _, history, _, _ = scoring.train(SOLUTIONS, course, data)
    assert len(Recorder.seen["train_images"]) == 50 and "validation_loss" not in history


def test_the_grader_cross_entropy_is_the_mean_negative_log_likelihood():
    params = {"W1": np.array([[1.0, 0.0], [0.0, 2.0], [0.5, 0.5]]), "b1": np.zeros((3, 1))}
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    labels = np.array([0, 1])
    z = params["W1"] @ X
    expected = -np.mean([np.log(np.exp(z[0, 0]) / np.exp(z[:, 0]).sum()),
                         np.log(np.exp(z[1, 1]) / np.exp(z[:, 1]).sum())])
    assert np.isclose(scoring.mean_cross_entropy(params, X, labels), expected)
    assert not np.isclose(scoring.mean_cross_entropy(params, X, labels[::-1]), expected)
