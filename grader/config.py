"""course.yaml: load it, validate every value, and say exactly what is wrong if not."""

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, cast

import yaml

from grader.child.limits import Limits
from grader.errors import GradeError

FILENAME = "course.yaml"
PART_IDS = ("activations", "softmax_ce", "backprop", "updates", "mnist")


class ConfigError(GradeError):
    """course.yaml is not what it should be: the file, the key, the value and why (exit 2)."""


@dataclass(frozen=True)
class Part:
    id: str
    title: str
    points: float


@dataclass(frozen=True)
class Course:
    path: Path
    name: str
    assignment: str
    assignment_id: str  # a short name: the nbgrader assignment and notebook, the release's folder names
    pass_mark: float  # the score CI jobs must reach (grade check --pass-mark)
    parts: dict  # id -> Part, in course order
    mnist_accuracy: float
    gradient_rel_error: float
    value_rel_error: float
    hidden_sizes: tuple
    epochs: int
    batch_size: int
    learning_rate: float
    seed: int
    mnist_weight_distance: float
    validation: int  # the last `validation` training images, held out of training for the validation curves
    limits: Limits
    isolation: str  # auto | required | off
    reference: Path | None  # the reference solution the MNIST weights are compared with
    data_dir: Path | None

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def budget(self) -> dict[str, int | float]:
        return {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "seed": self.seed,
        }


class Reader:
    """Walks the YAML tree; every error names the file, the dotted key, the value and why."""

    def __init__(self, path):
        self.path = path

    def fail(self, key: str, value: object, why: str) -> NoReturn:
        raise ConfigError(f"{self.path}: {key} = {value!r}: {why}")

    def section(self, tree: object, key: str, allowed: Collection[str]) -> dict:
        value = tree.get(key.rsplit(".", 1)[-1]) if isinstance(tree, dict) else None
        if not isinstance(value, dict):
            self.fail(key, value, "must be a mapping")
        for k in value:
            if k not in allowed:
                self.fail(f"{key}.{k}", value[k], f"unknown key; expected one of {', '.join(allowed)}")
        return value

    def get(
        self,
        tree: dict,
        key: str,
        kind: type,
        low: float | None = None,
        high: float | None = None,
        optional: bool = False,
    ) -> Any:
        name = key.rsplit(".", 1)[-1]
        if name not in tree:
            if optional:
                return None
            self.fail(key, None, "missing")
        value = tree[name]
        if value is None and optional:
            return None
        if kind is str:
            if not isinstance(value, str) or not value.strip():
                self.fail(key, value, "must be a non-empty string")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(key, value, f"must be {'a whole number' if kind is int else 'a number'}")
        if kind is int and value != int(value):
            self.fail(key, value, "must be a whole number")
        if (low is not None and value < low) or (high is not None and value > high):
            self.fail(
                key, value, f"must be between {low} and {high}" if high is not None else f"must be at least {low}"
            )
        return kind(value)


LIMIT_RANGES = {  # key -> (low, high)
    "call_seconds": (0.1, 3600),
    "check_seconds": (0.1, 36000),
    "training_seconds": (1, 86400),
    "cpu_seconds": (1, 86400),
    "memory_mb": (256, 1 << 20),
    "processes": (4, 1 << 16),
    "open_files": (16, 1 << 16),
    "disk_mb": (1, 1 << 20),
    "output_kb": (1, 1 << 20),
    "submission_files": (1, 100_000),
    "submission_mb": (1, 4096),
}


def load(path: Path | str) -> Course:
    path = Path(path).resolve()
    try:
        with path.open(encoding="utf-8") as stream:  # so that a syntax error names the file, not "<unicode string>"
            tree = yaml.safe_load(stream)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    r = Reader(path)
    if not isinstance(tree, dict):
        r.fail("(top level)", tree, "must be a mapping")
    top = ("name", "assignment", "thresholds", "training", "limits", "isolation", "data")
    for k in tree:
        if k not in top:
            r.fail(k, tree[k], f"unknown key; expected one of {', '.join(top)}")
    assignment = r.section(tree, "assignment", ("name", "id", "pass_mark", "parts"))
    parts_tree = r.section(assignment, "assignment.parts", PART_IDS)
    parts = {}
    for pid, spec in parts_tree.items():
        key = f"assignment.parts.{pid}"
        if not isinstance(spec, dict):
            r.fail(key, spec, "must be a mapping with title and points")
        for k in spec:
            if k not in ("title", "points"):
                r.fail(f"{key}.{k}", spec[k], "unknown key; expected title or points")
        parts[pid] = Part(pid, r.get(spec, f"{key}.title", str), r.get(spec, f"{key}.points", float, 0))
    if not any(p.points for p in parts.values()):
        r.fail("assignment.parts", {k: p.points for k, p in parts.items()}, "at least one part needs points")
    thresholds = r.section(
        tree, "thresholds", ("mnist_accuracy", "mnist_weight_distance", "gradient_rel_error", "value_rel_error")
    )
    training = r.section(
        tree, "training", ("hidden_sizes", "epochs", "batch_size", "learning_rate", "seed", "validation", "reference")
    )
    limits_tree = r.section(tree, "limits", tuple(LIMIT_RANGES))
    kinds = {k: cast(type, f.type) for k, f in Limits.__dataclass_fields__.items()}  # int, float: no strings
    given = {k: r.get(limits_tree, f"limits.{k}", kinds[k], *LIMIT_RANGES[k], optional=True) for k in LIMIT_RANGES}
    limits = Limits(**{k: v for k, v in given.items() if v is not None})  # a missing key keeps its default
    isolation = tree.get("isolation", "auto")
    if isolation is False:  # YAML 1.1 reads an unquoted `off` as false
        isolation = "off"
    if isolation not in ("auto", "required", "off"):
        r.fail("isolation", isolation, "must be auto, required or off")
    reference = r.get(training, "training.reference", str, optional=True)
    data = r.section(tree, "data", ("dir",)) if "data" in tree else {}
    sizes = training.get("hidden_sizes")
    if (
        not isinstance(sizes, list)
        or not sizes
        or not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 4096 for n in sizes)
    ):
        r.fail("training.hidden_sizes", sizes, "must be a non-empty list of whole numbers from 1 to 4096")
    data_dir = r.get(data, "data.dir", str, optional=True)
    assignment_id = r.get(assignment, "assignment.id", str, optional=True) or "backprop"
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", assignment_id):
        r.fail("assignment.id", assignment_id, "must be lower-case letters, digits and _ (a file and folder name)")
    total = sum(p.points for p in parts.values())
    pass_mark = r.get(assignment, "assignment.pass_mark", float, 0, total, optional=True)
    return Course(
        path=path,
        name=r.get(tree, "name", str),
        assignment=r.get(assignment, "assignment.name", str),
        parts=parts,
        assignment_id=assignment_id,
        pass_mark=total if pass_mark is None else pass_mark,
        mnist_accuracy=r.get(thresholds, "thresholds.mnist_accuracy", float, 0, 1),
        gradient_rel_error=r.get(thresholds, "thresholds.gradient_rel_error", float, 0, 1),
        value_rel_error=r.get(thresholds, "thresholds.value_rel_error", float, 0, 1),
        hidden_sizes=tuple(sizes),
        epochs=r.get(training, "training.epochs", int, 1, 1000),
        batch_size=r.get(training, "training.batch_size", int, 1, 60000),
        learning_rate=r.get(training, "training.learning_rate", float, 0, 100),
        seed=r.get(training, "training.seed", int, 0, 2**32 - 1),
        validation=r.get(training, "training.validation", int, 0, 59999, optional=True) or 0,
        mnist_weight_distance=r.get(thresholds, "thresholds.mnist_weight_distance", float, 0, 10),
        limits=limits,
        isolation=isolation,
        reference=(path.parent / reference).resolve() if reference else None,
        data_dir=(path.parent / data_dir).resolve() if data_dir else None,
    )


def find(start: Path | str | None = None) -> Path:
    """course.yaml in the current folder or the nearest parent."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / FILENAME).is_file():
            return folder / FILENAME
    raise ConfigError(f"no {FILENAME} in {here} or any parent folder; run grade from the kit or pass --course")
