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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from grader.child.blanks import Blank
from grader.errors import GradeError
from grader.grading.gradcheck import H, numeric_gradient
from grader.grading.inputs import (
    COLUMNS,
    STRESS,
    draw,
    generator,
    hidden_dims,
    one_hot,
    public_dims,
    square,
    square_dims,
)
from grader.sandbox.process import Replay, Sandbox, StudentError

if TYPE_CHECKING:
    from grader.config import Course, Network

SEED = 20261124


def stream(name: str) -> int:
    """A blank's own random stream, from its name (not its place in course.yaml, which an added
    blank would shift)."""
    return zlib.crc32(name.encode())


Roles = Mapping[str, Callable[[np.ndarray], np.ndarray]]  # "hidden", "output" -> the reference's function


def declared_cases(
    blanks: Mapping[str, Blank], seed: int, dims_of: Callable[[Sequence[str]], dict[str, int]], roles: Roles
) -> dict[str, tuple[str, list]]:
    """The value cases of the blanks whose checks are derived from their declarations: each
    blank on its declared inputs (inputs.py) at the sizes dims_of gives; a blank of example
    columns also on one example ("<blank>/one_example"); a blank with a stability check on its
    input's stress case ("<blank>/stable", inputs.STRESS); a blank of three sizes or more where
    they are all one ("<blank>/square", inputs.square)."""
    from grader.config import inputs_of

    out: dict[str, tuple[str, list]] = {}
    for blank in blanks.values():
        if not blank.checks:
            continue
        rng = np.random.default_rng([seed, stream(blank.name)])  # its own: a new blank moves no other's inputs
        inputs = inputs_of(blank, dict(blanks))
        dims = dims_of(inputs)
        out[blank.name] = (blank.name, draw(inputs, rng, dims, roles))
        if any(generator(i) in COLUMNS for i in inputs):
            out[f"{blank.name}/one_example"] = (blank.name, draw(inputs, rng, {**dims, "m": 1}, roles))
        if "stable" in blank.kinds:
            out[f"{blank.name}/stable"] = (blank.name, [STRESS[generator(inputs[0])][0](rng, dims["n"])])
        if square(inputs):
            out[f"{blank.name}/square"] = (blank.name, draw(inputs, rng, square_dims(inputs, dims), roles))
    return out


def declared_gradient_cases(
    reference: Sandbox, blanks: Mapping[str, Blank], network: Network, roles: Roles
) -> dict[str, tuple[str, list, Any]]:
    """For each blank with a gradient check, "<blank>/central" -> (blank, its arguments, central
    differences of the reference's blanks):
    - derivative_of f: f's at z, the blank called as (z);
    - delta_of {output, loss}: of loss(output(z), y) with respect to z, called as (output(z), y);
    - delta_of {hidden: f}: of sum(delta(l+1) * (W(l+1) f(z(l)))) with respect to z(l), whose
      gradient is delta(l) exactly (dL/dz(l+1) = delta(l+1)), called as (W(l+1), delta(l+1), z(l));
    - gradient_of network: of the network's mean loss with respect to every W(l) and b(l) of a
      small net on two examples, called as (params, cache, y)."""
    from grader.config import inputs_of

    out: dict[str, tuple[str, list, Any]] = {}
    for blank in blanks.values():
        if "gradient" not in blank.kinds:
            continue
        rng = np.random.default_rng([SEED, 1, stream(blank.name)])
        inputs = inputs_of(blank, dict(blanks))
        if blank.derivative_of:
            [z] = draw(inputs, rng, {"n": 5, "m": 7})
            plus, minus = reference.map(blank.derivative_of, [[z + H], [z - H]])
            out[f"{blank.name}/central"] = (blank.name, [z], (plus - minus) / (2 * H))
        elif blank.delta_of:
            output, loss = blank.delta_of
            z, y = rng.standard_normal((4, 3)) * 2, one_hot(rng.integers(0, 4, size=3), 4)

            def losses(points, output=output, loss=loss, y=y):
                outputs = reference.map(output, [[p["z"]] for p in points])
                return [float(v) for v in reference.map(loss, [[a, y] for a in outputs])]

            numeric = numeric_gradient(losses, {"z": z})["z"]
            out[f"{blank.name}/central"] = (blank.name, [reference.call(output, z), y], numeric)
        elif blank.hidden_delta_of:
            W_next, delta_next, z = draw(inputs, rng, public_dims(inputs))
            f = blank.hidden_delta_of

            def through(points, f=f, W_next=W_next, delta_next=delta_next):
                return [float(np.sum(delta_next * (W_next @ a))) for a in reference.map(f, [[p["z"]] for p in points])]

            numeric = numeric_gradient(through, {"z": z})["z"]
            out[f"{blank.name}/central"] = (blank.name, [W_next, delta_next, z], numeric)
        else:  # gradient_of: network. Two examples; every size distinct, so that dividing by the
            # wrong one of n_L and m, or transposing a square matrix, cannot pass by coincidence
            params, cache, y = draw(inputs, rng, {**public_dims(inputs), "m": 2}, roles)
            X, L = cache["a0"], len(params) // 2

            def mean_loss(points, X=X, y=y, L=L):
                activations = [X] * len(points)
                for l in range(1, L + 1):
                    zs = [p[f"W{l}"] @ a + p[f"b{l}"] for p, a in zip(points, activations, strict=True)]
                    role = network.output if l == L else network.hidden
                    activations = reference.map(role, [[z] for z in zs])
                return [float(v) for v in reference.map(network.loss, [[a, y] for a in activations])]

            out[f"{blank.name}/central"] = (blank.name, [params, cache, y], numeric_gradient(mean_loss, params))
    return out


def hidden_cases(seed: int, blanks: Mapping[str, Blank], roles: Roles) -> dict[str, tuple[str, list]]:
    """The hidden vectors: every blank again, on inputs drawn from a seed the students never
    see and with other sizes (inputs.hidden_dims), so that answers hard-coded for the public
    inputs (or for their shapes) fail. Returns name -> (blank, args) with names "hidden/<case>"."""
    derived = declared_cases(blanks, seed, lambda inputs: hidden_dims(inputs, seed), roles)
    return {f"hidden/{name}": case for name, case in derived.items()}


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
        network, blanks = course.network, course.blanks
        # a small net's cache is built with the reference's own functions (inputs.net); config
        # makes sure they are blanks wherever a blank takes a net
        roles = {
            role: (lambda z, fn=fn: reference.call(fn, z))
            for role, fn in (("hidden", network.hidden), ("output", network.output))
        }

        def on(fn, args):
            """The reference's answer (and its calls), or what failed, named by its declaration."""
            try:
                return reference.call(fn, *args, record=True)
            except StudentError as exc:
                shapes = ", ".join(_shape(a) for a in args)
                raise ReferenceFailed(
                    f"{course.path}: assignments.{course.assignment_id}.blanks.{fn}.inputs: the reference's {fn} "
                    f"fails on the inputs declared there ({shapes}): {exc}"
                ) from None

        def run(cases):
            return {name: (fn, args, *on(fn, args)) for name, (fn, args) in cases.items()}

        try:
            table = run(declared_cases(blanks, SEED, public_dims, roles))
            for name, (fn, args, numeric) in declared_gradient_cases(reference, blanks, network, roles).items():
                table[name] = (fn, args, numeric, on(fn, args)[1])
            hidden = {} if hidden_seed is None else run(hidden_cases(hidden_seed, blanks, roles))
        except StudentError as exc:  # a network role, or a differentiated blank, on the declared inputs
            raise ReferenceFailed(
                f"{course.path}: assignments.{course.assignment_id}.blanks: building the vectors, the reference "
                f"failed: {exc}"
            ) from None

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


class ReferenceFailed(GradeError):
    """The reference fails on the inputs a declaration gives it (`grade generate`, exit 2)."""


def _shape(arg: Any) -> str:
    if isinstance(arg, np.ndarray):
        return "x".join(map(str, arg.shape))
    if isinstance(arg, dict):
        return "{" + ", ".join(arg) + "}"
    return repr(arg)


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
        kinds = blank.kinds
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
