"""The kit's input generators: what a declared blank is called with in its checks.

A blank's declaration in course.yaml names one generator per argument, with the shape of
that argument in size letters where it is not the default (n, m): `inputs: [z]` is one
(n, m) array; `inputs: ["normal(k, n)", "normal(k, m)", "z(n, m)"]` are W(l+1), delta(l+1)
and z(l) of the delta recursion, whose shapes must fit together. `grade generate` gives each
letter a size per case (dims): distinct sizes for the public vectors (so that a wrong axis
or a missing transpose changes a shape), other sizes for the hidden ones, one size for all
in the square case (where a transpose keeps every shape and changes the values) and m = 1
in the one-example case. The letter m is always the examples (columns).

Two generators make several arguments at once, because theirs must agree with each other:
`net` (a small net's params, the cache forward() builds from them, and labels y) and `step`
(params, gradients of the same keys and shapes, and a learning rate).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

Dims = Mapping[str, int]  # a size letter -> its size in one case
Array = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]
# a composite generator: (rng, dims, call) -> its arguments; call(fn, *args) runs one of the
# reference's functions (the network's hidden activation and output build a real cache)
Composite = Callable[[np.random.Generator, Dims, Any], list[Any]]
SPEC = re.compile(r"([a-z_]+)(?:\(\s*([a-z](?:\s*,\s*[a-z])*)\s*\))?")
DEFAULT = ("n", "m")  # an array's shape when its declaration gives none: n rows (units, classes), m examples


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...], low: float = 0.1, high: float = 2.0) -> np.ndarray:
    """Random entries with |z| >= low: ReLU's kink at 0 has no agreed derivative."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, high, size=shape)


def one_hot(labels: np.ndarray, n: int) -> np.ndarray:
    return np.eye(n)[:, labels]


def probabilities(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Columns that are valid softmax outputs (positive, summing to 1) without calling softmax."""
    n, m = shape
    return rng.dirichlet(np.ones(n), size=m).T


GENERATORS: dict[str, tuple[Array, str]] = {  # name -> (generator, what it draws, for the docs)
    "z": (lambda rng, shape: away_from_zero(rng, shape), "pre-activations with |z| in [0.1, 2]"),
    "wide": (lambda rng, shape: rng.uniform(-6, 6, size=shape), "pre-activations in [-6, 6]"),
    "normal": (lambda rng, shape: rng.standard_normal(shape), "standard normal entries"),
    "logits": (lambda rng, shape: rng.standard_normal(shape) * 3, "logits, normal with sd 3"),
    "probabilities": (probabilities, "columns of probabilities (positive, summing to 1)"),
    "one_hot": (
        lambda rng, shape: one_hot(rng.integers(0, shape[0], size=shape[1]), shape[0]),
        "one-hot label columns",
    ),
}


def extremes(rng: np.random.Generator, rows: int) -> np.ndarray:
    """Where an element-wise function must stay finite and exact (`stable` checks): float64's exp
    overflows above about 709, so a form that ever computes exp(z) for z in [710, 1000] fails here,
    and the moderate values catch a step function that is exact only at the extremes. Drawn from
    the case's seed, so that the hidden case differs from the public one (a table of the public
    answers passed the hidden checks: red team)."""
    far, near = rng.uniform(900, 1000), rng.uniform(710, 850)
    moderate, small = rng.uniform(2, 4), rng.uniform(0.5, 1.5)
    return np.array([[-far, -near, -moderate, -small, 0.0, small, moderate, near, far]])


# Column shifts for a function of logits columns: columns near +1000, near -1000 and near 0 in one
# batch. Subtracting one max for the whole batch (or each row's) leaves some column at
# exp(-2000) = 0 everywhere, and 0 / 0 is NaN; only each column's own max keeps every column finite.
SHIFTS = np.array([[1000.0, 0.0, -1000.0, 500.0, 0.0, 1000.0]])


def shifted_logits(rng: np.random.Generator, rows: int) -> np.ndarray:
    """Logits columns shifted as SHIFTS, then two columns that mix 1000 with 0 and -1000 with 0
    inside the column (subtracting the column's min or mean instead of its max overflows there)."""
    z = rng.standard_normal((rows, SHIFTS.shape[1])) * 3 + SHIFTS
    spread = np.zeros((rows, 2))
    spread[rows // 2, 0], spread[-1, 1] = 1000.0, -1000.0
    return np.hstack([z, spread])


# generator -> (the stress input of a `stable` check, where it is (the check's title), what it is)
STRESS: dict[str, tuple[Callable[[np.random.Generator, int], np.ndarray], str, str]] = {
    **dict.fromkeys(
        ("z", "wide", "normal"), (extremes, "at |z| up to 1000", "z of both signs up to 1000, moderate and 0")
    ),
    "logits": (
        shifted_logits,
        "at logits of +-1000, also where a column mixes 1000 with 0",
        "a batch whose columns sit near +1000, 0 and -1000, and two that mix 1000 (or -1000) with 0",
    ),
}
ELEMENTWISE = ("z", "wide", "normal")  # generators of plain arrays: an element-wise blank's input
# Generators of example columns: a blank of them is also checked on one example (m = 1), where a
# flat (n,) answer or a sum over the wrong axis shows.
COLUMNS = ("logits", "probabilities", "one_hot")


def small_net(rng: np.random.Generator, sizes: Sequence[int], m: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Parameters of a small net with He-scaled weights and biases away from 0, and m inputs."""
    params = {}
    for l in range(1, len(sizes)):
        params[f"W{l}"] = rng.standard_normal((sizes[l], sizes[l - 1])) * np.sqrt(2.0 / sizes[l - 1])
        params[f"b{l}"] = away_from_zero(rng, (sizes[l], 1), 0.05, 0.3)
    return params, rng.standard_normal((sizes[0], m))


def net(rng: np.random.Generator, sizes: Sequence[int], m: int, roles: Mapping[str, Any]) -> list[Any]:
    """params, cache and one-hot y of a net of these layer sizes on m examples: the cache is what
    forward() builds (cache["a0"] = X, z(l) = W(l) a(l-1) + b(l), a(l) = the hidden activation,
    the output's on top), computed with the reference's own functions (roles: "hidden" and
    "output" -> a function of z). Every hidden z is at least 1e-3 from 0, so that perturbing
    a weight by the gradient check's h never crosses ReLU's kink; drawn again until it is."""
    L = len(sizes) - 1
    while True:
        params, X = small_net(rng, sizes, m)
        cache, a = {"a0": X}, X
        for l in range(1, L + 1):
            z = params[f"W{l}"] @ a + params[f"b{l}"]
            a = roles["output"](z) if l == L else roles["hidden"](z)
            cache[f"z{l}"], cache[f"a{l}"] = z, a
        if all(np.abs(cache[f"z{l}"]).min() > 1e-3 for l in range(1, L)):
            return [params, cache, one_hot(rng.integers(0, sizes[-1], size=m), sizes[-1])]


def step(rng: np.random.Generator, sizes: Sequence[int], m: int, roles: Mapping[str, Any]) -> list[Any]:
    """params, gradients of the same keys and shapes, and a learning rate: one optimiser step's
    arguments. The gradients come in the order backward finds them (W2, b2, W1, b1): a step
    must pair them with the parameters by name, not by position (zip(params.values(),
    grads.values()) pairs W2 with W1)."""
    params, _ = small_net(rng, sizes, 1)
    grads, _ = small_net(rng, sizes, 1)
    grads = dict(sorted(grads.items(), key=lambda item: (-int(item[0][1:]), item[0] == "b")))
    return [params, grads, float(np.round(rng.uniform(0.05, 0.5), 3))]


# name -> (generator, the arguments it makes, its default size letters, what it draws, for the docs)
COMPOSITES: dict[str, tuple[Callable[..., list[Any]], int, tuple[str, ...], str]] = {
    "net": (
        net,
        3,
        ("i", "k", "j", "n"),
        "params, cache and y of a net of layer sizes (i, k, j, n) on m examples, hidden z away from 0",
    ),
    "step": (
        step,
        3,
        ("n", "k", "j"),
        "params and gradients of a net of layer sizes (n, k, j), gradients keyed in backward's order, and a rate",
    ),
}


def parse(spec: str) -> tuple[str, tuple[str, ...]]:
    """An `inputs` entry -> (generator, its size letters): "z" -> ("z", ("n", "m")),
    "normal(k, n)" -> ("normal", ("k", "n")). ValueError for what is not one."""
    match = SPEC.fullmatch(spec.strip()) if isinstance(spec, str) else None
    if not match or match[1] not in (*GENERATORS, *COMPOSITES):
        known = ", ".join([*GENERATORS, *COMPOSITES])
        raise ValueError(f"not an input generator: {known}, an array's optionally with sizes, e.g. normal(k, n)")
    letters = tuple(re.split(r"\s*,\s*", match[2])) if match[2] else ()
    if match[1] in COMPOSITES:
        least = {"net": 3, "step": 2}[match[1]]  # two layers at least: a recursion, a step of several keys
        if letters and len(letters) < least:
            example = f"{match[1]}({', '.join(COMPOSITES[match[1]][2])})"
            raise ValueError(f"{match[1]}'s sizes are its layers' widths: {least} letters or more, e.g. {example}")
        return match[1], letters or COMPOSITES[match[1]][2]
    if letters and len(letters) != 2:
        raise ValueError("an array's sizes are two letters: rows and columns, e.g. normal(k, n)")
    return match[1], letters or DEFAULT


def generator(spec: str) -> str:
    return parse(spec)[0]


def arguments(inputs: Sequence[str]) -> int:
    """How many arguments a blank of these inputs takes."""
    return sum(COMPOSITES[g][1] if g in COMPOSITES else 1 for g in map(generator, inputs))


def letters(inputs: Sequence[str]) -> list[str]:
    """The size letters of these inputs, in order of first use, with m (a composite's examples)."""
    out: list[str] = []
    for spec in inputs:
        name, own = parse(spec)
        out += [*own, "m"] if name == "net" else own
    return list(dict.fromkeys(out))


PUBLIC = (4, 5, 6, 3, 7, 8, 2, 9)  # n, m, then the other letters in order: all distinct


def public_dims(inputs: Sequence[str]) -> dict[str, int]:
    """The public vectors' sizes: n = 4, m = 5, and the other letters 6, 3, 7, ... in order."""
    others = [x for x in letters(inputs) if x not in DEFAULT]
    return {"n": PUBLIC[0], "m": PUBLIC[1], **dict(zip(others, PUBLIC[2:], strict=False))}


def hidden_dims(inputs: Sequence[str], seed: int) -> dict[str, int]:
    """The hidden vectors' sizes, from their seed: n and m in 2..8, the other letters distinct
    from them and from each other where 2..9 has room."""
    rng = np.random.default_rng(seed)
    n, m = (int(v) for v in rng.integers(2, 9, size=2))
    dims = {"n": n, "m": m}
    for x in letters(inputs):
        if x not in dims:
            free = [v for v in range(2, 10) if v not in dims.values()] or list(range(2, 10))
            dims[x] = int(rng.choice(free))
    if "net" in map(generator, inputs):  # another depth than the public net's: a loop written for its
        dims["depth"] = len(parse(next(i for i in inputs if generator(i) == "net"))[1])  # layers fails here
    return dims


def square(inputs: Sequence[str]) -> bool:
    """Is a blank also checked where every size is one (its square case)? Where its arguments
    have three sizes or more between them, it multiplies matrices, and a missing or extra
    transpose keeps every square shape while it changes the values."""
    return len(letters(inputs)) >= 3


def square_dims(inputs: Sequence[str], dims: Dims) -> dict[str, int]:
    """The square case's sizes: every letter the size of n; a net there is two layers deep (the
    public one is three, the hidden one four), so that a loop written for one depth fails."""
    out = dict.fromkeys([*(x for x in dims if x != "depth"), *letters(inputs)], dims["n"])
    if "net" in map(generator, inputs):
        out["depth"] = 2
    return out


def draw(
    inputs: Sequence[str], rng: np.random.Generator, dims: Dims, roles: Mapping[str, Any] | None = None
) -> list[Any]:
    """One case's arguments: each entry of inputs, in order, at dims' sizes (roles: for `net`)."""
    out: list[Any] = []
    for spec in inputs:
        name, own = parse(spec)
        if name in COMPOSITES:
            sizes = [dims[x] for x in own]
            if name == "net" and "depth" in dims:  # layers past the letters' repeat the last hidden width
                depth = dims["depth"]
                sizes = [*sizes[: min(depth, len(sizes) - 1)], *[sizes[-2]] * (depth + 1 - len(sizes)), sizes[-1]]
            out += COMPOSITES[name][0](rng, sizes, dims["m"], roles or {})
        else:
            out.append(GENERATORS[name][0](rng, tuple(dims[x] for x in own)))
    return out
