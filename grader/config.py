"""course.yaml: load it, validate every value, and say exactly what is wrong if not."""

import dataclasses
import io
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, cast

import yaml

from grader.child.blanks import RETURNS, Blank
from grader.child.limits import Limits
from grader.errors import GradeError

FILENAME = "course.yaml"
VECTORS = "vectors.json"
NAME = re.compile(r"[a-z_][a-z0-9_]{0,63}")  # a part, a blank, a module: Python names, lower case
ASSIGNMENT_ID = re.compile(r"[a-z][a-z0-9_-]{0,39}")


class ConfigError(GradeError):
    """course.yaml is not what it should be: the file, the key, the value and why (exit 2)."""


@dataclass(frozen=True)
class Part:
    id: str
    title: str
    points: float
    unchanged: float = 0  # the points of the check that its derived blanks leave their inputs unchanged


HIDDEN = {"relu": "relu_prime", "sigmoid": "sigmoid_prime"}  # a hidden activation -> its derivative's name
OUTPUTS = {("softmax", "cross_entropy"): "output_delta", ("sigmoid", "mse"): "mse_delta"}  # -> delta(L)'s name


@dataclass(frozen=True)
class Network:
    """The network an assignment trains (course.yaml's `network`): the hidden layers' activation,
    the output layer's and its loss. Each role is played by the assignment's blank of that name
    (or, where it has none, a function its own network.py gives: Course.provided)."""

    hidden: str = "relu"
    output: str = "softmax"
    loss: str = "cross_entropy"

    def roles(self) -> dict[str, str]:
        """Every role's function name, as the training child looks them up in the submission
        (a blank, or a function the assignment provides: see Course.provided)."""
        return {
            "hidden": self.hidden,
            "hidden_prime": HIDDEN[self.hidden],
            "output": self.output,
            "loss": self.loss,
            "output_delta": OUTPUTS[(self.output, self.loss)],
            "backward": "backward",
            "update": "sgd_update",
        }

    def trained_with(self, blanks: Collection[str]) -> set[str]:
        """The blanks training this network runs, in its roles (the loss aside: it is only plotted)."""
        return {name for role, name in self.roles().items() if role != "loss" and name in blanks}


@dataclass(frozen=True)
class Experiment:
    """One of an assignment's experiments (course.yaml's experiments.<id>; see grader/grading/experiments.py):
    the network trained once per run, each run the assignment's network with its roles changed,
    all on one budget: hidden_sizes, epochs and learning_rate, on the first `images` training images."""

    id: str
    title: str
    look_for: str
    plot: str
    points: float
    runs: tuple[tuple[str, Network], ...]
    hidden_sizes: tuple[int, ...]
    epochs: int
    learning_rate: float
    images: int


@dataclass(frozen=True)
class Course:
    """One assignment of the course, with the course-wide settings it inherits resolved: what
    every command grades, trains or generates. load() gives it; assignment_ids lists them all."""

    path: Path
    name: str
    assignment: str
    assignment_id: str  # a short name: the folders solutions/<id>/ and exercises/<id>/, the nbgrader assignment
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
    assignment_ids: tuple[str, ...] = ()  # every assignment of the course, in course.yaml's order
    blanks: dict = field(default_factory=dict)  # name -> child.blanks.Blank: the functions students write
    network: Network = Network()
    experiments: tuple[Experiment, ...] = ()

    @property
    def blank_modules(self) -> list[str]:
        """The files (without .py) that hold the blanks: what a submission is."""
        return sorted({b.module for b in self.blanks.values()})

    @property
    def given_modules(self) -> list[str]:
        """The files that only give functions training calls (network.py): the grader always uses
        the assignment's own copy (exercises/<id>/), never the student's (intake.prepare)."""
        return sorted(set(self.provided.values()) - set(self.blank_modules))

    @property
    def modules(self) -> list[str]:
        """Every file of the assignment's code: the blanks' and the given ones."""
        return sorted({*self.blank_modules, *self.given_modules})

    @property
    def trains(self) -> bool:
        """Does grading train a network (an mnist or experiments part)?"""
        return bool({"mnist", "experiments"} & set(self.parts))

    @property
    def provided(self) -> dict[str, str]:
        """The functions training needs that are not blanks here: the assignment gives them in its
        own network.py (name -> module), e.g. design-choices' relu, softmax and backward. Never
        the kit's: grader/ ships to every student, and these are another assignment's answers.
        None for an assignment that trains nothing."""
        if not self.trains:
            return {}
        networks = [self.network, *(network for e in self.experiments for _, network in e.runs)]
        names = dict.fromkeys(name for network in networks for name in network.roles().values())
        return {name: "network" for name in names if name not in self.blanks}

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def solutions(self) -> Path:
        """The reference: solutions/<id>/ (the one source of every generated file)."""
        return self.root / "solutions" / self.assignment_id

    @property
    def exercises(self) -> Path:
        """The student version, generated: exercises/<id>/ (the default submission)."""
        return self.root / "exercises" / self.assignment_id

    @property
    def vectors(self) -> Path:
        """The public test vectors, generated beside the stubs (they ship with the release)."""
        return self.exercises / VECTORS

    @property
    def hidden_vectors(self) -> Path:
        """The hidden test vectors: hidden/<id>/vectors.json (never released)."""
        return self.root / "hidden" / self.assignment_id / VECTORS

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

    def section(self, tree: object, key: str, allowed: Collection[str], name: object = None) -> dict:
        """The mapping at key (its last part, or name: a label with a "." in it) in tree, its keys
        checked against allowed (any, when empty)."""
        value = tree.get(key.rsplit(".", 1)[-1] if name is None else name) if isinstance(tree, dict) else None
        if not isinstance(value, dict):
            self.fail(key, value, "must be a mapping")
        for k in value:
            if allowed and k not in allowed:
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


LIMIT_RANGES: dict[str, tuple[float, float]] = {
    k: f.metadata["range"] for k, f in Limits.__dataclass_fields__.items()
}  # child/limits.py's


class AssignmentChoiceError(GradeError):
    """No such assignment, or several and none chosen (exit 2)."""


def load(path: Path | str, assignment: str | None = None) -> Course:
    """The course as one assignment sees it: `assignment` (an id under course.yaml's
    assignments), or the only one when the course has one."""
    path = Path(path).resolve()
    r, tree = read(path)
    ids = tuple(tree["assignments"])
    if assignment is None:
        if len(ids) > 1:
            raise AssignmentChoiceError(
                f"{path}: the course has {len(ids)} assignments ({', '.join(ids)}): choose one with --assignment"
            )
        assignment = ids[0]
    if assignment not in ids:
        raise AssignmentChoiceError(f"--assignment {assignment}: no such assignment in {path}; it has {', '.join(ids)}")
    return resolve(r, tree, assignment)


def load_all(path: Path | str) -> list[Course]:
    """Every assignment of the course, in course.yaml's order (for `grade generate`)."""
    r, tree = read(Path(path).resolve())
    return [resolve(r, tree, a) for a in tree["assignments"]]


def read(path: Path, text: str | None = None) -> tuple[Reader, dict]:
    """The YAML tree of course.yaml at path (or of text, named as that file), checked at the top."""
    try:
        if text is None:
            text = path.read_text(encoding="utf-8")
        stream = io.StringIO(text)
        stream.name = str(path)  # so that a syntax error names the file, not "<unicode string>"
        tree = yaml.safe_load(stream)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    r = Reader(path)
    if not isinstance(tree, dict):
        r.fail("(top level)", tree, "must be a mapping")
    if "assignment" in tree and "assignments" not in tree:
        r.fail(
            "assignment",
            "...",
            "a course now holds several assignments: put this section under `assignments: {<id>: ...}` (its id "
            "becomes the key), and the files under solutions/<id>/ (see docs/instructor-guide.md)",
        )
    top = ("name", "assignments", "thresholds", "training", "limits", "isolation", "data")
    for k in tree:
        if k not in top:
            r.fail(k, tree[k], f"unknown key; expected one of {', '.join(top)}")
    assignments = tree.get("assignments")
    if not isinstance(assignments, dict) or not assignments:
        r.fail("assignments", assignments, "must be a mapping from each assignment's id to its settings")
    for aid in assignments:
        if not isinstance(aid, str) or not ASSIGNMENT_ID.fullmatch(aid):
            r.fail(
                f"assignments.{aid}",
                aid,
                "an id must be lower-case letters, digits, - and _, starting with a letter (it names folders)",
            )
    return r, tree


THRESHOLDS = ("mnist_accuracy", "mnist_weight_distance", "gradient_rel_error", "value_rel_error")
TRAINING = ("hidden_sizes", "epochs", "batch_size", "learning_rate", "seed", "validation", "reference")


def overridden(r: Reader, tree: dict, own: dict, key: str, allowed: tuple[str, ...], where: str) -> dict:
    """The course-wide section `key`, with the assignment's own values for it on top."""
    merged = dict(r.section(tree, key, allowed))
    if key in own:
        merged.update(r.section(own, f"{where}.{key}", allowed))
    return merged


def resolve(r: Reader, tree: dict, aid: str) -> Course:
    path = r.path
    where = f"assignments.{aid}"
    assignment = r.section(
        tree["assignments"],
        where,
        ("name", "pass_mark", "parts", "blanks", "network", "experiments", "training", "thresholds"),
    )
    parts_tree = r.section(assignment, f"{where}.parts", ())
    parts = {}
    for pid, spec in parts_tree.items():
        key = f"{where}.parts.{pid}"
        if not isinstance(pid, str) or not NAME.fullmatch(pid):
            r.fail(
                key, pid, "a part's id must be lower-case letters, digits and _ (the blanks' file is named after it)"
            )
        if not isinstance(spec, dict):
            r.fail(key, spec, "must be a mapping with title and points")
        for k in spec:
            if k not in ("title", "points", "unchanged"):
                r.fail(f"{key}.{k}", spec[k], "unknown key; expected title, points or unchanged")
        parts[pid] = Part(
            pid,
            r.get(spec, f"{key}.title", str),
            r.get(spec, f"{key}.points", float, 0),
            r.get(spec, f"{key}.unchanged", float, 0, optional=True) or 0,
        )
    if not any(p.points for p in parts.values()):
        r.fail(f"{where}.parts", {k: p.points for k, p in parts.items()}, "at least one part needs points")
    network = network_of(r, assignment, where)
    blanks = declared_blanks(r, assignment, where, network)
    for name, blank in blanks.items():
        if blank.part not in parts_tree:
            r.fail(
                f"{where}.blanks.{name}.part",
                blank.part,
                f"not a part of this assignment (its parts: {', '.join(parts_tree)})",
            )
    experiments = experiments_of(r, assignment, where, network)
    for pid in parts:  # a part's points must be reachable: its checks are its blanks' (mnist: the training)
        if pid == "experiments" and not experiments:
            r.fail(f"{where}.parts.{pid}", parts_tree[pid], f"no experiment is declared ({where}.experiments)")
        if pid not in ("mnist", "experiments") and not any(b.part == pid for b in blanks.values()):
            r.fail(
                f"{where}.parts.{pid}",
                parts_tree[pid],
                f"no blank is in this part: declare its blanks under {where}.blanks with part: {pid}",
            )
    thresholds = overridden(r, tree, assignment, "thresholds", THRESHOLDS, where)
    training = overridden(r, tree, assignment, "training", TRAINING, where)
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
    total = sum(p.points for p in parts.values())
    pass_mark = r.get(assignment, f"{where}.pass_mark", float, 0, total, optional=True)
    return Course(
        path=path,
        name=r.get(tree, "name", str),
        assignment=r.get(assignment, f"{where}.name", str),
        parts=parts,
        assignment_id=aid,
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
        # training.reference names the folder of every assignment's reference: solutions/<id>/
        reference=(path.parent / reference / aid).resolve() if reference else None,
        data_dir=(path.parent / data_dir).resolve() if data_dir else None,
        assignment_ids=tuple(tree["assignments"]),
        blanks=blanks,
        network=network,
        experiments=experiments,
    )


def network_of(r: Reader, tree_of: dict, where: str, key: str = "network", base: Network = Network()) -> Network:
    """<where>.network (or another key holding roles), over base, checked against the networks
    the kit can train and score."""
    if key not in tree_of:
        return base
    tree = r.section(tree_of, f"{where}.{key}", ("hidden", "output", "loss"), name=key)
    network = dataclasses.replace(base, **{k: r.get(tree, f"{where}.{key}.{k}", str) for k in tree})
    if network.hidden not in HIDDEN:
        r.fail(f"{where}.{key}.hidden", network.hidden, f"must be one of {', '.join(HIDDEN)}")
    if (network.output, network.loss) not in OUTPUTS:
        pairs = ", ".join(f"{o} with {lo}" for o, lo in OUTPUTS)
        r.fail(f"{where}.{key}", tree, f"output and loss must be one of: {pairs}")
    return network


def default(value: Any, otherwise: Any) -> Any:
    """value, or otherwise where the key was left out (None): a 0 given stays 0."""
    return otherwise if value is None else value


def experiments_of(r: Reader, assignment: dict, where: str, network: Network) -> tuple[Experiment, ...]:
    """assignments.<id>.experiments: each one's title, what to look for, its plot, its points,
    its runs (a label -> the roles it changes) and its budget."""
    from grader.grading.experiments import PLOTS

    if "experiments" not in assignment:
        return ()
    tree = r.section(assignment, f"{where}.experiments", ())
    keys = ("title", "look_for", "plot", "points", "runs", "hidden_sizes", "epochs", "learning_rate", "images")
    out = []
    for eid, spec in tree.items():
        key = f"{where}.experiments.{eid}"
        if not isinstance(eid, str) or not NAME.fullmatch(eid):
            r.fail(key, eid, "an experiment's id must be lower-case letters, digits and _ (it names its figure)")
        spec = r.section(tree, key, keys)
        plot = r.get(spec, f"{key}.plot", str)
        if plot not in PLOTS:
            r.fail(f"{key}.plot", plot, f"must be one of {', '.join(PLOTS)}")
        runs_tree = r.section(spec, f"{key}.runs", ())
        runs = tuple((str(label), network_of(r, runs_tree, f"{key}.runs", label, network)) for label in runs_tree)
        if len(runs) < 2:
            r.fail(f"{key}.runs", runs_tree, "an experiment compares at least two runs")
        sizes = spec.get("hidden_sizes", [64])
        if (
            not isinstance(sizes, list)
            or not sizes
            or not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 1024 for n in sizes)
        ):
            r.fail(f"{key}.hidden_sizes", sizes, "must be a non-empty list of whole numbers from 1 to 1024")
        out.append(
            Experiment(
                id=eid,
                title=r.get(spec, f"{key}.title", str),
                look_for=r.get(spec, f"{key}.look_for", str),
                plot=plot,
                points=r.get(spec, f"{key}.points", float, 0),
                runs=runs,
                hidden_sizes=tuple(sizes),
                epochs=default(r.get(spec, f"{key}.epochs", int, 1, 100, optional=True), 2),
                learning_rate=default(r.get(spec, f"{key}.learning_rate", float, 0, 100, optional=True), 0.1),
                images=default(r.get(spec, f"{key}.images", int, 100, 60000, optional=True), 5000),
            )
        )
    return tuple(out)


# the checks the kit derives from a declaration (grader/grading/checks/test_blanks.py)
KINDS = ("values", "gradient", "stable", "mean", "descent", "helpers")
# what a blank may be declared the gradient of, besides derivative_of and delta_of: the network's
# loss with respect to every parameter, or one layer's W(l) and b(l) from its delta(l) and a(l-1)
GRADIENT_OF = ("network", "layer")


def declared_blanks(r: Reader, assignment: dict, where: str, network: Network) -> dict[str, Blank]:
    """assignments.<id>.blanks: each function students write, its part, its file (the part's id
    by default), what it returns (an array by default) and, for a blank whose checks the kit
    derives, its equation, its inputs (or the blank it is the derivative of), what it is the
    gradient of and its checks."""
    from grader.grading import inputs as generators

    tree = r.section(assignment, f"{where}.blanks", ())
    if not tree:
        r.fail(f"{where}.blanks", tree, "declare at least one blank")
    keys = (
        "part", "module", "returns", "equation", "latex", "inputs", "derivative_of", "delta_of", "gradient_of", "checks"
    )  # fmt: skip
    blanks = {}
    for name, spec in tree.items():
        key = f"{where}.blanks.{name}"
        if not isinstance(name, str) or not NAME.fullmatch(name):
            r.fail(key, name, "a blank is a function: lower-case letters, digits and _")
        if not isinstance(spec, dict):
            r.fail(key, spec, "must be a mapping with part (and module, returns)")
        for k in spec:
            if k not in keys:
                r.fail(f"{key}.{k}", spec[k], f"unknown key; expected one of {', '.join(keys)}")
        part = r.get(spec, f"{key}.part", str)
        module = r.get(spec, f"{key}.module", str, optional=True) or part
        returns = r.get(spec, f"{key}.returns", str, optional=True) or "array"
        if not NAME.fullmatch(module):
            r.fail(f"{key}.module", module, "a file name without .py: lower-case letters, digits and _")
        if returns not in RETURNS:
            r.fail(f"{key}.returns", returns, f"must be one of {', '.join(RETURNS)}")
        inputs = spec.get("inputs", [])
        if not isinstance(inputs, list):
            r.fail(f"{key}.inputs", inputs, "must be a list: one input generator per argument")
        for i, entry in enumerate(inputs):
            try:
                generators.parse(entry)
            except ValueError as exc:
                r.fail(f"{key}.inputs[{i}]", entry, str(exc))
        gradient_of = r.get(spec, f"{key}.gradient_of", str, optional=True) or ""
        if gradient_of and gradient_of not in GRADIENT_OF:
            r.fail(f"{key}.gradient_of", gradient_of, f"must be one of {', '.join(GRADIENT_OF)}")
        blanks[name] = Blank(
            name,
            module,
            returns,
            part,
            equation=r.get(spec, f"{key}.equation", str, optional=True) or "",
            latex=r.get(spec, f"{key}.latex", str, optional=True) or "",
            inputs=tuple(inputs),
            derivative_of=r.get(spec, f"{key}.derivative_of", str, optional=True) or "",
            gradient_of=gradient_of,
            checks=checks_of(r, spec, key, returns),
            **delta_of(r, spec, key),
        )
    for name, blank in blanks.items():  # what the derived checks need, now that every blank is known
        validate(r, f"{where}.blanks.{name}", blank, blanks, network)
    for name, blank in blanks.items():  # then what one blank's check needs of the others' declarations
        if "helpers" in blank.kinds and not helpers(blanks, network):
            r.fail(
                f"{where}.blanks.{name}.checks.helpers",
                blank.kinds["helpers"],
                "needs the blanks of the recursion declared: an output delta (delta_of: {output, loss}), a hidden "
                f"delta (delta_of: {{hidden: {network.hidden}}}) and a layer's gradients (gradient_of: layer)",
            )
    return blanks


def checks_of(r: Reader, spec: dict, key: str, returns: str) -> tuple[tuple[str, float], ...]:
    """A declaration's checks as (kind, points); `values: {dW: 4, db: 3}` of a pair checks its
    two arrays one at a time, as ("values dW", 4) and ("values db", 3)."""
    checks = spec.get("checks", {})
    if not isinstance(checks, dict):
        r.fail(f"{key}.checks", checks, f"must map checks ({', '.join(KINDS)}) to their points")
    out = []
    for kind in checks:
        if kind not in KINDS:
            r.fail(f"{key}.checks.{kind}", checks[kind], f"unknown check; the kit derives {', '.join(KINDS)}")
        if kind == "values" and isinstance(checks[kind], dict):
            if returns != "pair" or len(checks[kind]) != 2 or not all(isinstance(c, str) for c in checks[kind]):
                r.fail(
                    f"{key}.checks.values", checks[kind], "points per array are for a pair (returns: pair): two names"
                )
            out += [(f"values {c}", r.get(checks[kind], f"{key}.checks.values.{c}", float, 0)) for c in checks[kind]]
            continue
        out.append((kind, r.get(checks, f"{key}.checks.{kind}", float, 0)))
    return tuple((kind, float(points)) for kind, points in out)


def delta_of(r: Reader, spec: dict, key: str) -> dict[str, Any]:
    """A blank's delta_of: {output, loss} (an output layer's delta) or {hidden} (a hidden
    layer's), as Blank's fields."""
    if "delta_of" not in spec:
        return {}
    tree = spec["delta_of"]
    if isinstance(tree, dict) and "hidden" in tree:
        if set(tree) != {"hidden"}:
            r.fail(
                f"{key}.delta_of",
                tree,
                "either {hidden: f} (a hidden layer's delta) or {output: g, loss: L} (the output layer's), not both",
            )
        return {"hidden_delta_of": r.get(tree, f"{key}.delta_of.hidden", str)}
    tree = r.section(spec, f"{key}.delta_of", ("output", "loss"))
    return {"delta_of": (r.get(tree, f"{key}.delta_of.output", str), r.get(tree, f"{key}.delta_of.loss", str))}


def validate(r: Reader, key: str, blank: Blank, blanks: dict[str, Blank], network: Network) -> None:
    """What a blank's derived checks need of its declaration and of the other blanks."""
    from grader.grading import inputs as generators

    kinds = blank.kinds
    inputs = inputs_of(blank, blanks)
    made = [generators.generator(i) for i in inputs]
    if blank.derivative_of and blank.derivative_of not in blanks:
        r.fail(f"{key}.derivative_of", blank.derivative_of, "not a blank of this assignment")
    if blank.derivative_of and (
        len(blanks[blank.derivative_of].inputs) != 1
        or generators.generator(blanks[blank.derivative_of].inputs[0]) not in generators.ELEMENTWISE
    ):
        r.fail(
            f"{key}.derivative_of",
            blank.derivative_of,
            f"an element-wise derivative is of a blank of one input, one of {', '.join(generators.ELEMENTWISE)}",
        )
    if kinds and not blank.equation:
        r.fail(f"{key}.equation", None, "a blank with derived checks needs its equation (every diagnosis quotes it)")
    if kinds and not inputs:
        r.fail(f"{key}.inputs", None, "its checks need inputs (or derivative_of a blank that has them)")
    of = (blank.derivative_of, blank.delta_of, blank.hidden_delta_of, blank.gradient_of)
    if "gradient" in kinds and not any(of):
        r.fail(
            f"{key}.checks.gradient",
            kinds["gradient"],
            "a gradient check needs derivative_of, delta_of or gradient_of: what the differences are of",
        )
    roles = [
        *zip(("output", "loss"), blank.delta_of, strict=False),
        *[("hidden", blank.hidden_delta_of)] * bool(blank.hidden_delta_of),
    ]
    for role, name in roles:
        if name not in blanks:
            r.fail(
                f"{key}.delta_of.{role}", name, "not a blank of this assignment (its reference gives the differences)"
            )
    calls = {
        "delta_of: {hidden}": (blank.hidden_delta_of, "(W_next, delta_next, z)"),
        "gradient_of: network": (blank.gradient_of == "network", "(params, cache, y)"),
        "gradient_of: layer": (blank.gradient_of == "layer", "(delta, a_prev)"),
    }
    for declared_as, (declared, called) in calls.items():
        count = called.count(",") + 1
        if declared and generators.arguments(inputs) != count:
            r.fail(
                f"{key}.inputs",
                list(inputs),
                f"a blank declared {declared_as} is called with {count} arguments, {called}; these make "
                f"{generators.arguments(inputs)}",
            )
    if blank.hidden_delta_of and (
        blank.hidden_delta_of in blanks
        and (
            len(inputs_of(blanks[blank.hidden_delta_of], blanks)) != 1
            or generators.generator(inputs_of(blanks[blank.hidden_delta_of], blanks)[0]) not in generators.ELEMENTWISE
        )
    ):
        r.fail(
            f"{key}.delta_of.hidden",
            blank.hidden_delta_of,
            "a hidden layer's activation is an element-wise blank of one input "
            f"({', '.join(generators.ELEMENTWISE)}), such as relu or sigmoid",
        )
    if blank.gradient_of == "layer" and ("gradient" in kinds or blank.returns != "pair"):
        r.fail(
            f"{key}.gradient_of",
            blank.gradient_of,
            "a layer's gradients are a pair (returns: pair) checked by their values (no gradient check)",
        )
    if blank.gradient_of == "network" and made != ["net"]:
        r.fail(f"{key}.inputs", list(inputs), "the gradient of the network is taken on a small net: inputs: [net]")
    if "net" in made:
        missing = [f for f in (network.hidden, network.output, network.loss) if f not in blanks]
        if missing:
            r.fail(
                f"{key}.inputs",
                list(inputs),
                f"a small net's cache is built with the reference's {', '.join(missing)}, which must be blanks here",
            )
    if "mean" in kinds and blank.returns != "scalar":
        r.fail(f"{key}.checks.mean", kinds["mean"], "a mean over the batch is a check of a scalar (returns: scalar)")
    if "stable" in kinds and (len(inputs) != 1 or made[0] not in generators.STRESS):
        r.fail(
            f"{key}.checks.stable",
            kinds["stable"],
            f"a stability check is for a blank of one input, made by one of {', '.join(generators.STRESS)}",
        )
    if "descent" in kinds and made != ["step"]:
        r.fail(f"{key}.checks.descent", kinds["descent"], "a descent check is of an optimiser step: inputs: [step]")
    if "helpers" in kinds and blank.gradient_of != "network":
        r.fail(
            f"{key}.checks.helpers",
            kinds["helpers"],
            "a helpers check is of the network's gradient (gradient_of: network), built from the other blanks",
        )


def helpers(blanks: dict[str, Blank], network: Network) -> dict[str, str] | None:
    """The blanks backward's recursion is made of, for the network: "output_delta" (delta(L) of
    its output and loss), "hidden_delta" (delta(l) through its hidden activation) and
    "layer_gradients" (dW(l), db(l) from (delta(l), a(l-1))); None unless each is one blank."""
    found = {
        "output_delta": [b.name for b in blanks.values() if b.delta_of == (network.output, network.loss)],
        "hidden_delta": [b.name for b in blanks.values() if b.hidden_delta_of == network.hidden],
        "layer_gradients": [b.name for b in blanks.values() if b.gradient_of == "layer"],
    }
    if not all(len(names) == 1 for names in found.values()):
        return None
    return {role: names[0] for role, names in found.items()}


def inputs_of(blank: Blank, blanks: dict[str, Blank]) -> tuple[str, ...]:
    """A blank's input generators: its own, or those of the blank it is the derivative of."""
    return blank.inputs or (blanks[blank.derivative_of].inputs if blank.derivative_of else ())


def only_assignment(course: Course, text: str | None = None) -> str:
    """course.yaml's text (or text, another version of it) with the other assignments left out,
    line by line so that its comments stay: the course a release or a Gradescope bundle of this
    one assignment carries. Read back and checked; a layout this cannot cut (a flow mapping)
    is a ConfigError that says so."""
    text = course.path.read_text(encoding="utf-8") if text is None else text
    lines = text.splitlines(keepends=True)
    heads = [i for i, line in enumerate(lines) if re.match(r"assignments\s*:\s*(#.*)?$", line.rstrip("\n"))]
    kept = lines
    if heads:
        start = heads[0] + 1
        end = next((i for i in range(start, len(lines)) if re.match(r"[^\s#]", lines[i])), len(lines))
        indent = next((m.group(1) for line in lines[start:end] if (m := re.match(r"(\s+)[^\s#]", line))), "  ")
        kept, keep, comments = lines[:start], True, []
        for line in lines[start:end]:
            key = re.match(rf"{indent}([^\s#:][^:]*?)\s*:", line)
            if re.match(rf"{indent}#", line) and not line.startswith(indent + " "):
                comments.append(line)  # a comment at the ids' indent introduces the id below it
                continue
            if key and not line.startswith(indent + " "):
                keep = key.group(1).strip("'\"") == course.assignment_id
            if keep or not line.strip():
                kept += [*comments, line]
            comments = []
        kept += comments + lines[end:]
    out = "".join(kept)
    _, tree = read(course.path, out)
    if list(tree["assignments"]) != [course.assignment_id]:
        raise ConfigError(
            f"{course.path}: could not leave out the other assignments line by line (write `assignments:` "
            "in block style, one id per line)"
        )
    return out


def find(start: Path | str | None = None) -> Path:
    """course.yaml in the current folder or the nearest parent."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / FILENAME).is_file():
            return folder / FILENAME
    raise ConfigError(f"no {FILENAME} in {here} or any parent folder; run grade from the kit or pass --course")
