"""Test vectors: inputs the grader picks, and the reference's outputs for them.

`grade generate` runs solutions/<id>/ on these inputs (through the sandbox, like any
submission) and stores both in exercises/<id>/vectors.json, so value checks need no solutions/.
Gradient cases ("<blank>/central") store, instead of the reference's output, the central
differences of the reference's forward functions: the student's derivative blank is held
against them. Taking the differences of the student's own forward functions instead let
blanks that answered value checks correctly and the perturbed points with constants (the
grader cannot tell them apart) pass every gradient check with all-zero derivatives.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from grader.child.blanks import Blank
from grader.errors import GradeError
from grader.grading.gradcheck import H, numeric_gradient
from grader.grading.inputs import COLUMNS, STRESS, away_from_zero, draw, one_hot
from grader.sandbox.process import Replay, Sandbox

if TYPE_CHECKING:
    from grader.config import Course

SEED = 20261124


def small_net(
    rng: np.random.Generator, sizes: list[int], m: int
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Parameters of a small ReLU net with every hidden z away from the kink."""
    params = {}
    for l in range(1, len(sizes)):
        params[f"W{l}"] = rng.standard_normal((sizes[l], sizes[l - 1])) * np.sqrt(2.0 / sizes[l - 1])
        params[f"b{l}"] = away_from_zero(rng, (sizes[l], 1), 0.05, 0.3)
    X = rng.standard_normal((sizes[0], m))
    y = one_hot(rng.integers(0, sizes[-1], size=m), sizes[-1])
    return params, X, y


def affine_cache(
    params: dict[str, np.ndarray],
    X: np.ndarray,
    hidden: Callable[[np.ndarray], np.ndarray],
    output: Callable[[np.ndarray], np.ndarray],
) -> dict[str, np.ndarray]:
    """The cache forward() builds: affine maps, hidden(z) for hidden layers, output(z) on top."""
    L = len(params) // 2
    cache, a = {"a0": X}, X
    for l in range(1, L + 1):
        z = params[f"W{l}"] @ a + params[f"b{l}"]
        a = output(z) if l == L else hidden(z)
        cache[f"z{l}"], cache[f"a{l}"] = z, a
    return cache


def cases(
    softmax: Callable[[np.ndarray], np.ndarray], seed: int = SEED, n: tuple[int, ...] = (4, 5, 6, 3)
) -> dict[str, tuple[str, list]]:
    """name -> (blank, args) of the blanks whose checks are still written by hand (grading/checks/;
    the others' cases come from their declarations: declared_cases). softmax is the reference's,
    needed to build a real cache. seed and the sizes n = (rows, columns, examples, layer width)
    vary the inputs: the public vectors use the defaults, the hidden ones (see hidden_cases) others."""
    rows, cols, m, k = n
    rng = np.random.default_rng(seed)
    params, X, y_net = small_net(rng, [m, cols, rows, k], rows)
    small, _, _ = small_net(rng, [rows, k, 2], 1)
    grads, _, _ = small_net(rng, [rows, k, 2], 1)
    # in the order backward builds them (W2, b2, W1, b1): sgd_update must pair gradients with
    # parameters by name, not by position (zip(params.values(), grads.values()) pairs W2 with W1)
    grads = dict(sorted(grads.items(), key=lambda item: (-int(item[0][1:]), item[0] == "b")))
    # Edge shapes students get wrong: square matrices, where a missing or extra transpose keeps
    # the shape and changes the values.
    square = rows
    sq_params, sq_X, sq_y = small_net(rng, [square, square, square, k], m)
    return {
        "hidden_delta": (
            "hidden_delta",
            [rng.standard_normal((k, cols)), rng.standard_normal((k, m)), away_from_zero(rng, (cols, m))],
        ),
        "backward": ("backward", [params, affine_cache(params, X, lambda z: np.maximum(z, 0), softmax), y_net]),
        "layer_gradients": ("layer_gradients", [rng.standard_normal((cols, m)), rng.standard_normal((rows, m))]),
        "sgd_update": ("sgd_update", [small, grads, 0.1]),
        "hidden_delta/square": (
            "hidden_delta",
            [
                rng.standard_normal((square, square)),
                rng.standard_normal((square, square)),
                away_from_zero(rng, (square, square)),
            ],
        ),
        "layer_gradients/square": (
            "layer_gradients",
            [rng.standard_normal((square, square)), rng.standard_normal((square, square))],
        ),
        "backward/square": (
            "backward",
            [sq_params, affine_cache(sq_params, sq_X, lambda z: np.maximum(z, 0), softmax), sq_y],
        ),
    }


def hidden_cases(
    softmax: Callable[[np.ndarray], np.ndarray], seed: int, blanks: Mapping[str, Blank]
) -> dict[str, tuple[str, list]]:
    """The hidden vectors: every blank again, on inputs drawn from a seed the students never
    see and with other sizes, so that answers hard-coded for the public inputs (or for their
    shapes) fail. Returns name -> (blank, args) with names "hidden/<blank>"."""
    n = tuple(int(v) for v in np.random.default_rng(seed).integers(2, 9, size=4))
    written = by_hand(blanks, lambda: cases(softmax, seed, n))
    derived = declared_cases(blanks, seed, n[0], n[1])
    return {f"hidden/{name}": case for name, case in {**written, **derived}.items()}


def by_hand(blanks: Mapping[str, Blank], made: Callable[[], dict[str, tuple]]) -> dict[str, tuple]:
    """The cases made() writes by hand, of the blanks whose checks are still written by hand
    (grading/checks/). made() runs only where there are such blanks: its cases need the notes'
    network (softmax, relu, ...), which an assignment of declared blanks alone may not have."""
    if all(b.checks for b in blanks.values()):
        return {}
    return {name: case for name, case in made().items() if case[0] in blanks and not blanks[case[0]].checks}


def stream(name: str) -> int:
    """A blank's own random stream, from its name (not its place in course.yaml, which an added
    blank would shift)."""
    return zlib.crc32(name.encode())


def declared_cases(blanks: Mapping[str, Blank], seed: int, rows: int, cols: int) -> dict[str, tuple[str, list]]:
    """The value cases of the blanks whose checks are derived from their declarations: each
    blank on its declared inputs (grader/inputs.py), drawn at rows x cols; a blank of example
    columns also on one example ("<blank>/one_example"); a blank with a stability check on its
    input's stress case ("<blank>/stable", inputs.STRESS)."""
    from grader.config import inputs_of

    out: dict[str, tuple[str, list]] = {}
    for blank in blanks.values():
        if blank.checks:
            rng = np.random.default_rng([seed, stream(blank.name)])  # its own: a new blank moves no other's inputs
            inputs = inputs_of(blank, dict(blanks))
            out[blank.name] = (blank.name, draw(inputs, rng, rows, cols))
            if any(i in COLUMNS for i in inputs):
                out[f"{blank.name}/one_example"] = (blank.name, draw(inputs, rng, rows, 1))
            if "stable" in dict(blank.checks):
                out[f"{blank.name}/stable"] = (blank.name, [STRESS[inputs[0]][0](rng, rows)])
    return out


def declared_gradient_cases(reference: Sandbox, blanks: Mapping[str, Blank]) -> dict[str, tuple[str, list, Any]]:
    """For each blank with a gradient check, name "<blank>/central" -> (blank, its arguments,
    central differences of the reference's blanks): for the element-wise derivative of another
    blank, that blank's at z; for an output delta (delta_of: output and loss), the loss of
    output(z) and one-hot labels y, with respect to z, the blank called as (output(z), y)."""
    from grader.config import inputs_of

    out: dict[str, tuple[str, list, Any]] = {}
    for blank in blanks.values():
        if "gradient" not in dict(blank.checks):
            continue
        rng = np.random.default_rng([SEED, 1, stream(blank.name)])
        if blank.derivative_of:
            [z] = draw(inputs_of(blank, dict(blanks)), rng, 5, 7)
            plus, minus = reference.map(blank.derivative_of, [[z + H], [z - H]])
            out[f"{blank.name}/central"] = (blank.name, [z], (plus - minus) / (2 * H))
            continue
        output, loss = blank.delta_of
        z, y = rng.standard_normal((4, 3)) * 2, one_hot(rng.integers(0, 4, size=3), 4)

        def losses(points, output=output, loss=loss, y=y):
            outputs = reference.map(output, [[p["z"]] for p in points])
            return [float(v) for v in reference.map(loss, [[a, y] for a in outputs])]

        numeric = numeric_gradient(losses, {"z": z})["z"]
        out[f"{blank.name}/central"] = (blank.name, [reference.call(output, z), y], numeric)
    return out


def kink_free_net(
    rng: np.random.Generator, sizes: list[int], m: int, margin: float = 1e-3
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """A small net whose hidden z stay at least `margin` from 0, so that perturbing any
    weight by h cannot cross ReLU's kink; deterministic because rng is seeded."""
    while True:
        params, X, y = small_net(rng, sizes, m)
        a, ok = X, True
        for l in range(1, len(sizes) - 1):
            z = params[f"W{l}"] @ a + params[f"b{l}"]
            ok &= bool(np.abs(z).min() > margin)
            a = np.maximum(z, 0)
        if ok:
            return params, X, y


def gradient_cases(reference: Sandbox) -> dict[str, tuple[str, list, Any]]:
    """name -> (blank, args, central differences of the reference's forward functions with
    respect to what the blank differentiates). reference: a Sandbox on solutions/."""

    def losses(params_list, X, y):  # mean cross-entropy of a ReLU/softmax net, per params
        activations = [X] * len(params_list)
        L = len(params_list[0]) // 2
        for l in range(1, L + 1):
            zs = [p[f"W{l}"] @ a + p[f"b{l}"] for p, a in zip(params_list, activations, strict=True)]
            activations = reference.map("softmax" if l == L else "relu", [[z] for z in zs])
        return [float(v) for v in reference.map("cross_entropy", [[a, y] for a in activations])]

    out: dict[str, tuple[str, list, Any]] = {}

    # dL/dz(l+1) of L = sum(delta_next * (W_next relu(z))) is exactly delta_next, so dL/dz(l)
    # is what hidden_delta computes.
    rng = np.random.default_rng(6)
    W_next, delta_next = rng.standard_normal((3, 5)), rng.standard_normal((3, 4))
    z = away_from_zero(rng, (5, 4), 0.01, 2.0)
    numeric = numeric_gradient(
        lambda points: [
            float(np.sum(delta_next * (W_next @ a))) for a in reference.map("relu", [[p["z"]] for p in points])
        ],
        {"z": z},
    )["z"]
    out["hidden_delta/central"] = ("hidden_delta", [W_next, delta_next, z], numeric)

    # every dimension distinct (6, 5, 4, 3 units; 2 examples): dividing by the wrong one of n_L
    # and m, or transposing a square matrix, cannot pass by coincidence
    params, X, y = kink_free_net(np.random.default_rng(7), [6, 5, 4, 3], 2)
    grads = numeric_gradient(lambda points: losses(points, X, y), params)
    cache = affine_cache(params, X, lambda z: reference.call("relu", z), lambda z: reference.call("softmax", z))
    out["backward/central"] = ("backward", [params, cache, y], grads)
    return out


def to_json(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, dict):
        return {k: to_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_json(v) for v in x]
    return float(x)


def from_json(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: from_json(v) for k, v in x.items()}
    if isinstance(x, list):
        return np.array(x, dtype=np.float64)
    return x


@overload
def record(course: Course, hidden_seed: None = None) -> dict[str, dict]: ...
@overload
def record(course: Course, hidden_seed: int) -> tuple[dict[str, dict], dict[str, dict]]: ...
def record(course: Course, hidden_seed: int | None = None) -> dict[str, dict] | tuple[dict[str, dict], dict[str, dict]]:
    """Run the reference on every case: name -> {"fn", "args", "expected", "calls"} (JSON-ready),
    where calls are the reference's calls to other blanks on the way (see sandbox.Replay).
    With hidden_seed, returns (public, hidden): the hidden cases go in a file of their own."""
    with Sandbox(course.solutions, blanks=course.blanks) as reference:
        softmax = lambda z: reference.call("softmax", z)  # noqa: E731

        def run(cases):
            return {name: (fn, args, *reference.call(fn, *args, record=True)) for name, (fn, args) in cases.items()}

        blanks = course.blanks
        table = run({**by_hand(blanks, lambda: cases(softmax)), **declared_cases(blanks, SEED, 4, 5)})
        gradients = {**by_hand(blanks, lambda: gradient_cases(reference)), **declared_gradient_cases(reference, blanks)}
        for name, (fn, args, numeric) in gradients.items():
            table[name] = (fn, args, numeric, reference.call(fn, *args, record=True)[1])
        hidden = {} if hidden_seed is None else run(hidden_cases(softmax, hidden_seed, blanks))

    def plain(t):
        return {
            name: {
                "fn": fn,
                "args": [to_json(a) for a in args],
                "expected": to_json(expected),
                "calls": [{"fn": f, "args": [to_json(a) for a in a_], "result": to_json(r)} for f, a_, r in calls],
            }
            for name, (fn, args, expected, calls) in t.items()
        }

    return plain(table) if hidden_seed is None else (plain(table), plain(hidden))


class Cases(dict):
    """name -> (args, expected); .calls: name -> what the reference's other blanks answered on
    the way, [(blank, args, result)], for sandbox.Replay."""

    def __init__(self, items=(), calls=None):
        super().__init__(items)
        self.calls = calls or {}

    def replay(self, name: str, tol: float) -> Replay:
        return Replay(self.calls.get(name, []), tol)


def parse(table: dict[str, dict], blanks: Mapping[str, Blank]) -> Cases:
    """Cases: name -> (args, expected) as float64 arrays (dicts of arrays for params; a list of
    arrays where the blank returns a pair), from the JSON form record() writes. The cases of a
    blank the course no longer declares (a course narrowed to some parts) are left out."""

    def result(fn, value):
        pair = fn in blanks and blanks[fn].returns == "pair"
        return [from_json(e) for e in value] if pair else from_json(value)

    out = Cases()
    for name, case in table.items():
        if case["fn"] not in blanks:
            continue
        out[name] = ([from_json(a) for a in case["args"]], result(case["fn"], case["expected"]))
        out.calls[name] = [
            (c["fn"], [from_json(a) for a in c["args"]], result(c["fn"], c["result"])) for c in case.get("calls", [])
        ]
    return out


class HiddenError(GradeError):
    """A vectors file is missing or not one (exit 2)."""


def require(path: Path | str, blanks: Mapping[str, Blank] | None = None) -> None:
    """Stop before grading (exit 2) when the public vectors are not there, or lack a case a
    declared blank's checks need (a blank declared since the last `grade generate`), rather than
    fail every check that compares with them."""
    if not Path(path).is_file():
        raise HiddenError(f"{path}: no test vectors there; run `grade generate` in the course kit")
    table = read(path, "test vectors")
    for blank in (blanks or {}).values():
        kinds = dict(blank.checks)
        needed = [blank.name] * bool(kinds) + [f"{blank.name}/central"] * ("gradient" in kinds)
        needed += [f"{blank.name}/stable"] * ("stable" in kinds)
        missing = [name for name in needed if name not in table]
        if missing:
            raise HiddenError(f"{path}: no case {', '.join(missing)} for blank {blank.name}; run `grade generate`")


def load(path: Path | str, blanks: Mapping[str, Blank]) -> Cases:
    """The public vectors (Course.vectors), parsed."""
    return parse(read(path, "test vectors"), blanks)


def load_hidden(path: Path | str, blanks: Mapping[str, Blank]) -> Cases:
    """The hidden vectors file ({"seed": int, "vectors": {...}}), parsed. Every blank must be
    there, so that a truncated or foreign file is named rather than half used."""
    table = read(path, "hidden vectors", key="vectors")
    missing = [b for b in blanks if f"hidden/{b}" not in table]
    if missing:
        raise HiddenError(f"{path}: no hidden vectors for {', '.join(missing)}; run `grade generate`")
    return parse(table, blanks)


def read(path: Path | str, what: str, key: str | None = None) -> dict[str, dict]:
    """A vectors file's table (under key, if given), or a HiddenError naming the file and why."""
    try:
        tree = json.loads(Path(path).read_text(encoding="utf-8"))
        table = tree[key] if key else tree
        if not isinstance(table, dict):
            raise TypeError(f"{key or 'the file'} holds a {type(table).__name__}, not a table of cases")
        return table
    except OSError as exc:
        raise HiddenError(f"{path}: cannot read the {what} ({exc.strerror}); run `grade generate`") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise HiddenError(
            f"{path}: not a {what} file written by `grade generate` ({type(exc).__name__}: {exc})"
        ) from None
