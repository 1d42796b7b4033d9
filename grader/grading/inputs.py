"""The kit's input generators: what a declared blank is called with in its checks.

A blank's declaration in course.yaml names one generator per argument (`inputs: [z]`), and
`grade generate` draws the arguments from them, for the public vectors at one size and for
the hidden ones at sizes the students never see. Each generator takes a seeded NumPy
Generator and the size of the case -- rows (units, or classes), cols (examples) -- and
returns one float64 array; arguments of one case share the size, so a loss's probabilities
and its one-hot labels fit together.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Generator = Callable[[np.random.Generator, int, int], np.ndarray]


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...], low: float = 0.1, high: float = 2.0) -> np.ndarray:
    """Random entries with |z| >= low: ReLU's kink at 0 has no agreed derivative."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, high, size=shape)


def one_hot(labels: np.ndarray, n: int) -> np.ndarray:
    return np.eye(n)[:, labels]


def probabilities(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    """Columns that are valid softmax outputs (positive, summing to 1) without calling softmax."""
    return rng.dirichlet(np.ones(n), size=m).T


GENERATORS: dict[str, tuple[Generator, str]] = {  # name -> (generator, what it draws, for the docs)
    "z": (lambda rng, rows, cols: away_from_zero(rng, (rows, cols)), "pre-activations with |z| in [0.1, 2]"),
    "wide": (lambda rng, rows, cols: rng.uniform(-6, 6, size=(rows, cols)), "pre-activations in [-6, 6]"),
    "normal": (lambda rng, rows, cols: rng.standard_normal((rows, cols)), "standard normal entries"),
    "logits": (lambda rng, rows, cols: rng.standard_normal((rows, cols)) * 3, "logits, normal with sd 3"),
    "probabilities": (probabilities, "columns of probabilities (positive, summing to 1)"),
    "one_hot": (lambda rng, rows, cols: one_hot(rng.integers(0, rows, size=cols), rows), "one-hot label columns"),
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


def draw(names: tuple[str, ...], rng: np.random.Generator, rows: int, cols: int) -> list[np.ndarray]:
    """One case's arguments: each named generator, in order, at one size."""
    return [GENERATORS[name][0](rng, rows, cols) for name in names]
