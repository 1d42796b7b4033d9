"""The MNIST run, scored by trusted code: the grader's own forward pass (affine maps, ReLU or
sigmoid, argmax) on weights the child returns, and a check that those weights came from training.

Honesty: the child gets the training set only, never the test images or labels, and sends
its weights after every epoch. Where the course's reference solution is at hand, the grader
trains it too, from the same He initialisation on the same batches, and requires the
student's final weights to be close to the reference's: any correct set of blanks lands
within a few percent (float rounding), while weights that were loaded, trained on other data
or with another seed or order land 40% to 140% away (measured: see docs/grading.md).
Softmax is monotone, so the argmax of the logits is the prediction; no blank is needed."""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from grader.config import ConfigError, Network
from grader.files import atomic_write
from grader.sandbox.isolation import GRADER
from grader.sandbox.process import Sandbox, StudentError

if TYPE_CHECKING:
    from grader.config import Course
    from grader.data.mnist import MNIST
    from grader.sandbox.bounds import Bound

Params = dict[str, np.ndarray]  # "W1", "b1", ...: a network's weights and biases


@dataclass
class MnistRun:
    params: dict
    history: dict
    seconds: float
    accuracy: float
    confusion: np.ndarray
    distance: float | None = None  # relative distance from the reference's weights; None: no reference here
    notes: tuple = ()  # the trainer's isolation and limits, for the report
    worst: tuple = ()  # the test digits it got most wrong: (index, label, predicted, confidence), worst first
    worst_images: np.ndarray | None = None  # their 28x28 pixels, in that order


def validation_cut(course: Course, n_images: int) -> int:
    """Where the training images end and the validation images (the last training.validation)
    begin. The one check of that setting against the data: ConfigError if it holds out all."""
    if course.validation >= n_images:
        raise ConfigError(
            f"{course.path}: training.validation: {course.validation} would hold out all {n_images:,} "
            "training images; hold out fewer"
        )
    return n_images - course.validation


def split(data: MNIST, course: Course) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(training images, training labels, validation images, validation labels): the last
    training.validation images of the training set are held out of training, for the
    validation curves. The test set is never among them."""
    images, labels = np.asarray(data.train_images), np.asarray(data.train_labels)
    cut = validation_cut(course, len(images))
    return images[:cut], labels[:cut], images[cut:], labels[cut:]


def mean_loss(params: Params, X: np.ndarray, labels: np.ndarray, network: Network = Network()) -> float:
    """The network's loss on X, the grader's own: cross-entropy -(1/m) sum log softmax(z(L))[label]
    from the logits (log-sum-exp), or MSE (1/(2m)) sum |sigmoid(z(L)) - y|^2."""
    z = logits(params, X, network)
    if network.loss == "mse":
        a = 0.5 * (1 + np.tanh(z / 2))  # sigmoid, never overflowing
        y = np.eye(z.shape[0])[:, labels]
        return float(np.sum((a - y) ** 2) / (2 * len(labels)))
    z = z - z.max(axis=0)
    log_probs = z - np.log(np.exp(z).sum(axis=0))
    return float(-log_probs[labels, np.arange(len(labels))].mean())


def train(
    folder: Path | str,
    course: Course,
    load_data: Callable[[], MNIST],
    on_epoch: Callable[[int, int], object] | None = None,
    bound: Bound | None = None,
    norms_every: int = 0,
    scored: dict[str, Any] | None = None,
) -> tuple[Params, dict[str, np.ndarray], float, tuple[str, ...]]:
    """Train in a fresh child with folder's blanks and the course's budget (in the submission's
    bound, if given), on the training images less the validation split. Returns (params,
    history, seconds, notes); history's validation loss and accuracy and test accuracy are
    computed here, by the grader's own forward pass, after each epoch. With norms_every,
    history also holds gradient_norms (steps, layers) and steps (see Sandbox.train).
    load_data() returns the data: it is asked for only once the child is starting, so that the
    child's start overlaps the data's decoding (the caller may be decoding it on a thread).
    With scored, the last epoch's weights are scored in float64, as the final score is, and
    scored gets "X" (the test images, float64), "params" (those weights) and "logits" (theirs)."""
    sizes = [784, *course.hidden_sizes, 10]
    test_accuracy: list[float] = []
    val_loss: list[float] = []
    val_accuracy: list[float] = []

    def epoch_done(epoch, params):
        if epoch != len(test_accuracy) + 1 or epoch > course.epochs:  # frames come from untrusted code
            raise StudentError(
                "protocol",
                f"training reported epoch {epoch} after {len(test_accuracy)} of "
                f"{course.epochs}: the grader's loop was tampered with",
            )
        check_params(params, sizes, f"after epoch {epoch}, training")
        X_val, X_test = floats.result()
        if scored is not None and epoch == course.epochs:
            scored.update(params=params, logits=logits(params, scored["X"], course.network))
            test_accuracy.append(float((scored["logits"].argmax(axis=0) == labels).mean()))
        else:
            test_accuracy.append(float((predict(params, X_test, course.network) == labels).mean()))
        if len(val_labels):
            val_loss.append(mean_loss(params, X_val, val_labels, course.network))
            val_accuracy.append(float((predict(params, X_val, course.network) == val_labels).mean()))
        if on_epoch:
            on_epoch(epoch, course.epochs)

    with (
        Sandbox(
            folder, course.limits, course.isolation, bound, blanks=course.blanks, provided=course.provided
        ) as trainer,
        concurrent.futures.ThreadPoolExecutor(1) as beside,
    ):
        # The child starts (0.1 s: bubblewrap, Python, NumPy) while the data is read, and the
        # validation and test images are made floats for the grader's own scoring after that,
        # while the first epoch runs: one after the other, they were all on the way to the first
        # batch (bench/benchmark.py's timeline). bubblewrap's child dies with the thread that
        # started it (--die-with-parent), which lives until this block ends; and the block waits
        # for start() before it closes the sandbox, if load_data() raises.
        started = beside.submit(trainer.start)
        data = load_data()
        train_images, train_labels, val_images, val_labels = split(data, course)
        labels = np.asarray(data.test_labels)

        def as_floats() -> tuple[np.ndarray, np.ndarray]:
            if scored is not None:
                scored["X"] = np.asarray(data.test_images).T.astype(np.float64) / 255
            X_test = np.asarray(data.test_images).T.astype(np.float32) / np.float32(255)
            return val_images.T.astype(np.float32) / np.float32(255), X_test

        floats = beside.submit(as_floats)
        started.result()
        params, history, seconds = trainer.train(
            sizes,
            course.budget,
            {"train_images": train_images, "train_labels": train_labels},
            epoch_done,
            course.network.roles(),
            norms_every,
        )
        notes = tuple(trainer.describe())
    check_params(params, sizes, "training")
    norms: dict[str, np.ndarray] = {k: history.pop(k) for k in ("gradient_norms", "steps") if k in history}
    lengths = {k: np.shape(v)[0] if np.ndim(v) == 1 else f"{np.ndim(v)}-d" for k, v in history.items()}
    lengths["epochs reported"] = len(test_accuracy)
    if set(lengths.values()) != {course.epochs}:
        raise StudentError(
            "protocol", f"training reported {lengths} for {course.epochs} epochs: the grader's loop was tampered with"
        )
    # The child's own measurements are for plots only; bound them so that no value can break
    # the plotting (matplotlib fails on 1.7e308).
    history["train_loss"] = np.clip(history["train_loss"], 0, 1e6)  # NaN stays NaN: a gap in the curve
    history["train_accuracy"] = np.clip(history["train_accuracy"], 0, 1)
    history["test_accuracy"] = np.array(test_accuracy)
    if val_loss:
        history["validation_loss"] = np.clip(val_loss, 0, 1e6)  # a weight of 1e300 makes an inf loss
        history["validation_accuracy"] = np.array(val_accuracy)
    if norms_every:
        history.update(checked_norms(norms, len(sizes) - 1))
    return params, history, seconds, notes


def checked_norms(norms: dict[str, np.ndarray], layers: int) -> dict[str, np.ndarray]:
    """The child's per-layer gradient norms, for the plots only: (steps, layers) and the steps,
    bounded so that no value breaks the plotting (NaN stays NaN: a gap in the line)."""
    values, steps = norms.get("gradient_norms"), norms.get("steps")
    well_formed = (
        values is not None
        and steps is not None
        and np.ndim(steps) == 1
        and (np.shape(values) == (len(steps), layers) or (len(steps) == 0 and np.size(values) == 0))
    )
    if not well_formed:
        raise StudentError("protocol", "training sent malformed gradient norms: the grader's loop was tampered with")
    assert values is not None and steps is not None  # well_formed says so
    return {
        "gradient_norms": np.clip(np.reshape(values, (len(steps), layers)), 0, 1e12),
        "steps": np.asarray(steps, np.float64),
    }


def train_and_score(
    folder: Path | str,
    course: Course,
    load_data: Callable[[], MNIST],
    on_progress: Callable[[int, int], object] | None = None,
    bound: Bound | None = None,
    reference: Params | None = None,
) -> MnistRun:
    """Train the submission (and, concurrently, the reference unless the caller has its
    weights or they are cached); score the returned weights on the test set here. Raises
    StudentError if training fails. load_data() returns the data, the same each time it is
    called (from this thread and those beside it)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(lambda: reference_weights(course, load_data())) if reference is None else None
        # The last epoch's weights are scored in float64 as they arrive: the final score, when
        # training returns the same weights (they were scored in float32, then again after the
        # training in float64: 0.03 s more before the verdict)
        scored: dict[str, Any] = {}
        params, history, seconds, notes = train(folder, course, load_data, on_progress, bound, scored=scored)
        if pending is not None:
            reference = pending.result()
    data = load_data()
    labels = np.asarray(data.test_labels)
    same = "params" in scored and all(np.array_equal(params[k], scored["params"][k]) for k in params)
    scores = scored["logits"] if same else logits(params, scored["X"], course.network)
    predicted = scores.argmax(axis=0)
    distance = None if reference is None else relative_distance(params, reference)
    worst = most_wrong(scores, predicted, labels)
    images = np.asarray(data.test_images)[[w[0] for w in worst]].reshape(len(worst), 28, 28)
    return MnistRun(
        params,
        history,
        seconds,
        float((predicted == labels).mean()),
        confusion_matrix(labels, predicted),
        distance,
        notes,
        worst,
        images,
    )


def most_wrong(
    scores: np.ndarray, predicted: np.ndarray, labels: np.ndarray, n: int = 16
) -> tuple[tuple[int, int, int, float], ...]:
    """The n misclassified test digits the network was surest of: (index, label, predicted,
    the probability it gave its wrong answer), surest first."""
    shifted = np.exp(scores - scores.max(axis=0))  # softmax of the logits, for the confidence shown
    confidence = shifted.max(axis=0) / shifted.sum(axis=0)
    wrong = np.flatnonzero(predicted != labels)
    order = wrong[np.argsort(-confidence[wrong], kind="stable")][:n]
    return tuple((int(i), int(labels[i]), int(predicted[i]), float(confidence[i])) for i in order)


def relative_distance(params: Params, reference: Params) -> float:
    """sqrt(sum ||P - R||^2) / sqrt(sum ||R||^2) over all weights and biases."""
    diff = sum(float(np.sum((params[k] - reference[k]) ** 2)) for k in reference)
    return float(np.sqrt(diff / sum(float(np.sum(reference[k] ** 2)) for k in reference)))


def cache_is_safe(course: Course) -> bool:
    """Could no child running student code have written .grade-cache/? Children in bubblewrap
    never see it, and children running as a uid of their own (a root grader's) cannot write a
    folder the grader owns. Otherwise (an ordinary user grading without isolation) a child could
    plant weights there that cost every later student MNIST's points, so the cache is then
    neither read nor written: the reference is trained again, in memory."""
    from grader.sandbox import bounds, process as sandbox

    folder = course.root / ".grade-cache"
    try:
        info = folder.stat()
        if info.st_uid != os.geteuid() or info.st_mode & 0o022:  # someone else could write it
            return False
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return sandbox.isolated(course.isolation) or bounds.is_root()


def reference_weights(course: Course, data: MNIST, use_cache: bool | None = None) -> Params | None:
    """The reference solution's final weights for this course and data (cached where that is
    safe, see cache_is_safe), or None when no reference is at hand (a student's copy of the kit)."""
    if course.reference is None or not course.reference.is_dir():
        return None
    if use_cache is None:
        use_cache = cache_is_safe(course)
    sizes = [784, *course.hidden_sizes, 10]
    digest = hashlib.sha256()
    # and the kit's loop, with the child's side of it (how it turns the images into floats)
    for path in [
        *sorted(course.reference.glob("*.py")),
        GRADER / "child" / "network.py",
        GRADER / "child" / "worker.py",
    ]:
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(
        repr((course.hidden_sizes, course.budget, course.validation, course.network, np.__version__)).encode()
    )
    for array in (data.train_images, data.train_labels):
        digest.update(np.ascontiguousarray(array).tobytes())
    cache = course.root / ".grade-cache" / f"reference-{digest.hexdigest()[:32]}.npz"
    if use_cache and cache.is_file():
        try:
            with np.load(cache) as saved:  # no pickles: allow_pickle is False
                params = {k: np.asarray(saved[k], np.float64) for k in saved.files}
            check_params(params, sizes, str(cache))
            if all(np.all(np.isfinite(v)) for v in params.values()):
                return params
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, StudentError):
            pass  # a damaged cache is trained again, and replaced
    params, _, _, _ = train(course.reference, course, lambda: data)
    if use_cache:
        cache.parent.mkdir(mode=0o755, exist_ok=True)
        saved = io.BytesIO()
        np.savez(saved, **params)  # type: ignore[arg-type]  # numpy's stub fears a key "allow_pickle"
        atomic_write(cache, saved.getvalue())  # two graders at once each write their own temporary file
    return params


def check_params(params: Params, sizes: list[int], what: str = "training") -> None:
    """Validate the weights that came back from training: keys and shapes (finiteness is
    checked as they cross the boundary)."""
    expected = {}
    for l in range(1, len(sizes)):
        expected[f"W{l}"] = (sizes[l], sizes[l - 1])
        expected[f"b{l}"] = (sizes[l], 1)
    if set(params) != set(expected):
        raise StudentError("bad_return", f"{what} returned parameters {sorted(params)}; expected {sorted(expected)}")
    for name, shape in expected.items():
        if params[name].shape != shape:
            raise StudentError("bad_return", f"{what} returned {name} of shape {params[name].shape}; expected {shape}")


def logits(params: Params, X: np.ndarray, network: Network = Network()) -> np.ndarray:
    """z(L) for X (784, m): the affine maps with the network's hidden activation (ReLU or
    sigmoid, the grader's own) between them. Softmax and sigmoid are monotone, so the argmax of
    z(L) is the prediction: no output function is needed."""
    L = len(params) // 2
    a = X
    for l in range(1, L + 1):
        z = params[f"W{l}"].astype(X.dtype) @ a + params[f"b{l}"].astype(X.dtype)
        if l == L:
            a = z
        elif network.hidden == "sigmoid":
            a = 0.5 * (1 + np.tanh(z / 2))  # sigmoid(z), with no exp to overflow
        else:
            a = np.maximum(z, 0)
    return a


def predict(params: Params, X: np.ndarray, network: Network = Network()) -> np.ndarray:
    """Class predictions (m,) for X (784, m)."""
    return logits(params, X, network).argmax(axis=0)


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n: int = 10) -> np.ndarray:
    """counts[i, j] = how many images of digit i were predicted as j."""
    return np.bincount(labels.astype(np.int64) * n + predicted, minlength=n * n).reshape(n, n)
