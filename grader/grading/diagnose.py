"""Diagnoses: what a wrong answer most likely is, read off the numbers.

When a value check fails, the grader holds the blank's inputs, the reference's answer and
the student's. Each blank has a short list of the mistakes students make, each written
here as the wrong formula itself, computed in NumPy by trusted code from the same inputs.
When the student's answer equals one of them, the diagnosis names it, quotes the equation
the blank should implement (the notes' notation) and says what the numbers show. Generic
patterns come next: NaN or inf (overflow), a wrong shape (with the shape the equation
gives, and why), the transpose, a constant factor (m, 1/m, -1, ...). A dict of gradients
is read key by key, and backward's by layer: which layers are right says where the error
is. When nothing matches, it says so and shows the worst entries side by side.
"""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def _sigmoid(z):  # the plain formula: the stable one is the students' to find (and ships with the grader)
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-z))


def _softmax(z, axis=0):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _m(y):
    return y.shape[1]


# blank -> [(what the numbers show, the wrong formula as a function of the blank's inputs)]
MISTAKES: dict[str, list[tuple[str, Callable[..., Any]]]] = {
    "relu": [
        ("it returns z unchanged: the negative entries should become 0", lambda z: z),
        ("it returns min(0, z): max keeps the positive part", lambda z: np.minimum(z, 0)),
        ("it returns 1 where z > 0, else 0: that is relu_prime, the derivative", lambda z: (z > 0) * 1.0),
    ],
    "relu_prime": [
        ("it returns relu(z), the function itself, not its derivative", lambda z: np.maximum(z, 0)),
        ("it is 1 where z < 0 and 0 where z > 0: the comparison is reversed", lambda z: (z < 0) * 1.0),
        ("it returns z where z > 0: the derivative of z is 1, not z", lambda z: np.where(z > 0, z, 0.0)),
    ],
    "sigmoid": [
        ("it computes 1 / (1 + exp(z)) = sigma(-z): the minus in the exponent is missing", lambda z: _sigmoid(-z)),
        ("it returns exp(-z) / (1 + exp(-z)) = 1 - sigma(z)", lambda z: 1 - _sigmoid(z)),
    ],
    "sigmoid_prime": [
        ("it returns sigma(z): the factor (1 - sigma(z)) is missing", _sigmoid),
        ("it returns sigma(z) (1 - z): the second factor is 1 - sigma(z), not 1 - z", lambda z: _sigmoid(z) * (1 - z)),
        ("it returns z (1 - z): the formula is applied to z instead of to sigma(z)", lambda z: z * (1 - z)),
        ("it returns 1 - sigma(z): the factor sigma(z) is missing", lambda z: 1 - _sigmoid(z)),
    ],
    "softmax": [
        (
            "it subtracts each ROW's max (axis=1): the shift must be one constant per column (axis=0), else it "
            "changes the answer",
            lambda z: (
                np.exp(z - z.max(axis=1, keepdims=True))
                / np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=0, keepdims=True)
            ),
        ),
        (
            "each ROW sums to 1: the sum runs over axis 1 (the examples) instead of axis 0 (the classes)",
            lambda z: _softmax(z, axis=1),
        ),
        (  # the same, shifted by each column's max (which a sum over rows does not cancel)
            "each ROW sums to 1: the sum runs over axis 1 (the examples) instead of axis 0 (the classes)",
            lambda z: (
                np.exp(z - z.max(axis=0, keepdims=True))
                / np.exp(z - z.max(axis=0, keepdims=True)).sum(axis=1, keepdims=True)
            ),
        ),
        (
            "the whole array sums to 1: the sum needs axis=0 (and keepdims=True), one sum per column",
            lambda z: np.exp(z - z.max()) / np.exp(z - z.max()).sum(),
        ),
        ("it returns exp(z) without dividing by the column's sum", lambda z: np.exp(z)),
    ],
    "cross_entropy": [
        (
            "it is the SUM over the m examples: the loss is the mean, divide by m = y.shape[1]",
            lambda a, y: -np.sum(y * np.log(a)),
        ),
        (
            "the minus sign is missing: log a is negative, so the loss must be -(1/m) sum y log a",
            lambda a, y: np.sum(y * np.log(a)) / _m(y),
        ),
        (
            "it averages over all n x m entries: divide by the m examples only (y.shape[1])",
            lambda a, y: -np.mean(y * np.log(a)),
        ),
        (
            "it divides by the number of classes n = y.shape[0], not by the m examples (y.shape[1])",
            lambda a, y: -np.sum(y * np.log(a)) / y.shape[0],
        ),
    ],
    "output_delta": [
        ("it is a - y without the 1/m: the loss is a mean over the m examples", lambda a, y: a - y),
        ("the sign is flipped: it is (y - a) / m", lambda a, y: (y - a) / _m(y)),
        (
            "it divides by the number of classes n = y.shape[0], not by m = y.shape[1]",
            lambda a, y: (a - y) / y.shape[0],
        ),
    ],
    "hidden_delta": [
        ("the f'(z(l)) factor is missing: it returns (W(l+1))^T delta(l+1) alone", lambda W, d, z: W.T @ d),
        ("it multiplies by relu(z) instead of relu'(z)", lambda W, d, z: (W.T @ d) * np.maximum(z, 0)),
        ("f' is applied to (W(l+1))^T delta(l+1) instead of to z(l)", lambda W, d, z: (W.T @ d) * ((W.T @ d) > 0)),
    ],
    "layer_gradients dW": [
        ("it is a(l-1) delta(l)^T: the transpose of delta(l) (a(l-1))^T; swap the factors", lambda d, a: a @ d.T),
        ("it is divided by m: the 1/m is already inside delta(l)", lambda d, a: d @ a.T / d.shape[1]),
    ],
    "layer_gradients db": [
        (
            "it is the MEAN over the columns, not the sum: the 1/m is already inside delta(l)",
            lambda d, a: d.mean(axis=1, keepdims=True),
        ),
        ("it sums over the rows (axis 0) instead of the columns (axis 1)", lambda d, a: d.sum(axis=0, keepdims=True)),
        ("it sums over the rows (axis 0) instead of the columns (axis 1)", lambda d, a: d.sum(axis=0)),
    ],
    "sgd_update": [
        (
            "it moves WITH the gradient (params + lr grads): descent subtracts",
            lambda p, g, lr: {k: p[k] + lr * g[k] for k in p},
        ),
        ("the learning rate is missing: params - grads", lambda p, g, lr: {k: p[k] - g[k] for k in p}),
        ("it returns params unchanged", lambda p, g, lr: dict(p)),
    ],
}


def _same(got, candidate):
    if isinstance(candidate, dict):
        return (
            isinstance(got, dict) and set(got) == set(candidate) and all(_same(got[k], candidate[k]) for k in candidate)
        )
    if not isinstance(got, np.ndarray):
        return False
    got, candidate = got.astype(float), np.asarray(candidate, float)
    return got.shape == candidate.shape and bool(np.allclose(got, candidate, rtol=1e-6, atol=1e-9))


def listed_mistake(blank: str, got: object, args: Sequence[Any]) -> tuple[str, Callable[..., Any]] | None:
    """The first listed mistake (description, formula) whose formula gives got, or None."""
    for description, formula in MISTAKES.get(blank, []):
        try:
            with np.errstate(all="ignore"):
                candidate = formula(*args)
        except (ValueError, TypeError, KeyError, IndexError):
            continue  # the inputs do not fit this mistake (shapes)
        if _same(got, candidate):
            return description, formula
    return None


def known_mistake(blank: str, got: object, args: Sequence[Any]) -> str | None:
    """The description of the first listed mistake whose formula gives got, or None."""
    found = listed_mistake(blank, got, args)
    return found[0] if found else None


def _x(shape):
    return "x".join(map(str, shape)) if len(shape) else "a single number"


def examples(blank: str, args: Sequence[Any]) -> int | None:
    """m, the number of examples (columns) in the blank's inputs, or None."""
    where = {"cross_entropy": 1, "output_delta": 1, "hidden_delta": 1, "layer_gradients": 0, "backward": 2}
    name = blank.split()[0]
    try:
        if name in where:
            return int(np.shape(args[where[name]])[1])
        # a declared blank of example columns (a loss, a delta: (a, y)): the columns of its last input
        shapes = [np.shape(a) for a in args if isinstance(a, np.ndarray)]
        if len(shapes) >= 2 and all(len(s) == 2 and s == shapes[0] for s in shapes):
            return int(shapes[-1][1])
        return None
    except (KeyError, IndexError, TypeError):
        return None


def shape_story(blank: str, args: Sequence[Any], key: str | None = None) -> str:
    """Why the blank's answer (or its entry `key`) has the shape it must: the inputs' shapes
    put through the equation. '' when the inputs are not what the blank expects."""
    name, s = blank.split()[0], lambda x: _x(np.shape(x))
    try:
        if name in ("relu", "relu_prime", "sigmoid", "sigmoid_prime"):
            return f"z is {s(args[0])} and so is the answer: f acts on each entry of z on its own"
        if name == "softmax":
            return (
                f"z is {s(args[0])} (n classes x m examples) and so is the answer: each column becomes "
                "probabilities that sum to 1"
            )
        if name == "cross_entropy":
            return f"the answer is a single number: the mean over the m = {examples(blank, args)} examples"
        if name == "output_delta":
            return f"a(L) and y are {s(args[0])} (n_L x m), and so is delta(L): one entry per output unit and example"
        if name == "hidden_delta":
            W, d, z = args
            return (
                f"W(l+1) is {s(W)} (n_(l+1) x n_l), delta(l+1) is {s(d)} (n_(l+1) x m) and z(l) is {s(z)} "
                f"(n_l x m): (W(l+1))^T delta(l+1) is ({_x(W.T.shape)})({s(d)}) = {W.shape[1]}x{d.shape[1]}, "
                "the shape of z(l), which f'(z(l)) then multiplies entry by entry"
            )
        if name == "layer_gradients":
            d, a = args
            if blank.endswith("db") or key == 1:
                return (
                    f"delta(l) is {s(d)} (n_l x m): summing its m columns leaves {d.shape[0]}x1, the shape of "
                    "b(l) (keepdims=True keeps the column)"
                )
            return (
                f"delta(l) is {s(d)} (n_l x m) and a(l-1) is {s(a)} (n_(l-1) x m), so delta(l) (a(l-1))^T is "
                f"({s(d)})({_x(a.T.shape)}) = {d.shape[0]}x{a.shape[0]}, the shape of W(l)"
            )
        if name == "sgd_update" and key:
            return f"the new {key} has the shape of params[{key!r}], {s(args[0][key])}"
        if name == "backward":
            params, m = args[0], examples(blank, args)
            if key:
                l = int(key[1:])
                if key[0] == "b":
                    return (
                        f"db{l} has the shape of b{l}, {s(params[key])}: delta({l}) ({params[key].shape[0]}x{m}, "
                        f"like z({l})) summed over its m columns"
                    )
                return (
                    f"dW{l} has the shape of W{l}, {s(params[key])}: delta({l}) is {params[key].shape[0]}x{m} "
                    f"(like z({l})) and a({l - 1}) is {params[key].shape[1]}x{m}, so delta({l}) (a({l - 1}))^T "
                    f"is {s(params[key])}"
                )
            L = len(params) // 2
            return (
                "W(l) is n_l x n_(l-1): "
                + ", ".join(f"W{l} {s(params[f'W{l}'])}" for l in range(1, L + 1))
                + f"; with m = {m} examples, delta(l) is n_l x m like z(l) ("
                + ", ".join(f"delta({l}) {params[f'W{l}'].shape[0]}x{m}" for l in range(L, 0, -1))
                + "); going back, delta(l) = (W(l+1))^T delta(l+1) (*) f'(z(l)) takes W and delta of the layer "
                "above and z of its own layer"
            )
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        pass
    return ""


def _nonfinite(blank):
    """What NaN or inf in a blank's answer most likely comes from."""
    name = blank.split()[0]
    if name == "softmax":
        return (
            "exp(z) overflows float64 for z above about 709, and inf / inf is NaN: softmax(z) = softmax(z - c) "
            "for any constant c per column, so subtract each column's max before exp"
        )
    if name == "sigmoid":
        return (
            "exp(-z) overflows float64 for z below about -709: compute it so that exp only ever sees a number "
            "<= 0 (two cases, by the sign of z)"
        )
    if name == "cross_entropy":
        return "log(0) is -inf: is a probability 0, or is the log taken of y rather than of a?"
    return "NaN or inf: an exp that overflowed, a log of 0, or 0 / 0 somewhere in it"


def pattern(blank: str, got: object, expected: object, args: Sequence[Any], key: str | None = None) -> str | None:
    """A generic reading of a wrong array against the right one (overflow, shape, transpose,
    sign, a constant factor), or None when none fits."""
    if isinstance(expected, (int, float)) and isinstance(got, (int, float, np.ndarray)):
        got, expected = np.asarray(got, float), np.asarray(expected, float)  # a loss: one number
    if not isinstance(got, np.ndarray) or not isinstance(expected, np.ndarray):
        return None
    got, expected, m = got.astype(float), expected.astype(float), examples(blank, args)
    if got.shape != expected.shape:
        story = shape_story(blank, args, key)
        if got.shape == expected.T.shape and got.ndim == 2:
            found = f"it is {_x(got.shape)}, the transpose of the {_x(expected.shape)} it should be"
        elif got.shape == expected.shape[:1] and expected.shape[1:] == (1,):
            found = (
                f"it is a flat array of {got.shape[0]}, not a {_x(expected.shape)} column: keep the axis "
                "(keepdims=True) so that it broadcasts over the m columns"
            )
        else:
            found = f"its shape is {_x(got.shape)}; it should be {_x(expected.shape)}"
        return f"{found}{': ' + story if story else ''}"
    if not np.all(np.isfinite(got)):
        return f"it has {int(np.sum(~np.isfinite(got)))} NaN or inf entries. {_nonfinite(blank)}"
    if got.ndim == 2 and got.shape[0] == got.shape[1] > 1 and _same(got, expected.T):
        return (
            "it is the transpose of the right answer; the matrix is square, so the shape cannot tell "
            "(a transpose applied, or left out, where the equation has none)"
        )
    denom = float(np.sum(expected * expected))
    if denom == 0 or not got.size:
        return None
    k = float(np.sum(got * expected)) / denom
    if abs(k - 1) < 1e-6 or abs(k) < 1e-12 or not np.allclose(got, k * expected, rtol=1e-6, atol=1e-12):
        return None
    if np.isclose(k, -1):
        return "the sign is flipped: every entry is -1 times the right one"
    if m and m > 1:
        for power, word in ((1, "m"), (2, "m^2")):
            if np.isclose(k, m**power):
                return (
                    f"every entry is {word} = {m**power} times too large: a sum over the m examples where the "
                    "loss is a mean (delta(L) = (a(L) - y) / m carries the 1/m, once)"
                )
            if np.isclose(k, m**-power):
                return (
                    f"every entry is {word} = {m**power} times too small: divided by m once too often (the "
                    "1/m belongs in delta(L) = (a(L) - y) / m only; what is built from delta is not divided again)"
                )
    return f"every entry is {k:.4g} times the right one"


def side_by_side(got: object, expected: object, n: int = 3) -> str:
    """The n entries where got and expected differ most, as '[i, j] got x, expected y'
    (for two arrays of one shape; '' for anything else, such as a pair of arrays)."""
    if (
        not isinstance(got, np.ndarray)
        or not isinstance(expected, np.ndarray)
        or got.shape != expected.shape
        or not got.size
    ):
        return ""
    got, expected = got.astype(float), expected.astype(float)
    diff = np.abs(got - expected)
    worst = np.argsort(diff, axis=None)[::-1][:n]
    cells = [np.unravel_index(i, got.shape) for i in worst if diff.flat[i] > 0]
    return "; ".join(f"[{', '.join(map(str, c))}] got {got[c]:.6g}, expected {expected[c]:.6g}" for c in cells)


def _unmatched(got, expected):
    shown = side_by_side(got, expected)
    return "no typical mistake matches these numbers" + (f"; the largest differences: {shown}" if shown else "")


def _going_back(key):
    return -int(key[1:]), key[0] == "b"  # W3, b3, W2, b2, ...: the order backpropagation finds them


def _first_step(got, args, l):
    """Which listed hidden_delta mistake makes backward's layer-l gradients (l = L - 1, the
    first step back from delta(L) = (a(L) - y) / m), or None."""
    params, cache, y = args
    delta_L = (cache[f"a{l + 1}"] - y) / y.shape[1]
    for description, formula in MISTAKES["hidden_delta"]:
        try:
            with np.errstate(all="ignore"):
                delta = formula(params[f"W{l + 1}"], delta_L, cache[f"z{l}"])
                dW, db = delta @ cache[f"a{l - 1}"].T, delta.sum(axis=1, keepdims=True)
        except (ValueError, TypeError, KeyError, IndexError):
            continue
        if _same(got[f"W{l}"], dW) and _same(got[f"b{l}"], db):
            return f"layer {l}'s gradients are what the step back gives when {description.removeprefix('the ')}"
    return None


def _layers(got, expected, args, wrong):
    """For backward: where the wrong keys put the error."""
    L = len(expected) // 2
    bad = sorted({int(k[1:]) for k in wrong})
    # db(l) is the sum of delta(l)'s columns: every db right says every delta(l) is (checked
    # first: a dW transposed in backward itself leaves each delta right)
    if all(k[0] == "W" for k in wrong):
        return (
            "every db is right, so every delta(l) is: the error is in dW(l) = delta(l) (a(l-1))^T (check "
            "what backward does with layer_gradients' dW, and that it passes a(l-1), the activation of the "
            "layer below)"
        )
    if L not in bad:
        top = bad[-1]
        right = f"layer {L} (the output layer) is right" if top + 1 == L else f"layers {top + 1}..{L} are right"
        step = (
            _first_step(got, args, top) if top == L - 1 else None
        ) or f"check the step back: hidden_delta(W{top + 1}, delta({top + 1}), z{top})"
        return (
            f"{right}, so delta({top + 1}) is; layer {top} is the first wrong one going back, where "
            f"delta({top}) = (W({top + 1}))^T delta({top + 1}) (*) f'(z({top})): {step}"
        )
    if all(k[0] == "b" for k in wrong):
        return "every dW is right, so every delta(l) is: the error is in db(l), the sum of delta(l)'s columns"
    return None


def by_key(blank: str, got: dict[str, Any], expected: dict[str, Any], args: Sequence[Any]) -> str:
    """Lines for a dict of arrays (backward's gradients, sgd_update's parameters): each wrong
    key and what it shows; for backward, which layers are right and where that puts the error."""
    wrong = {
        k: pattern(blank, got[k], expected[k], args, k)
        for k in sorted(expected, key=_going_back)
        if not _same(got.get(k), expected[k])
    }
    if not wrong:
        return (
            "diagnosis: every entry agrees with the reference's to about 6 digits, but not to the check's "
            "threshold: is it computed in float32 (about 7 digits) somewhere? The checks compare float64 answers"
        )
    seen = set(wrong.values())
    if len(wrong) == len(expected) > 2 and len(seen) == 1 and None not in seen:
        return f"diagnosis: every gradient shows the same: {seen.pop()}"
    lines = [f"{k}: {why}" for k, why in wrong.items() if why]
    if not lines:  # nothing generic: the worst entries of the first wrong key are enough
        k = next(iter(wrong))
        lines = [f"{k}: {_unmatched(got[k], expected[k])}"]
    where = _layers(got, expected, args, wrong) if blank == "backward" else None
    return "diagnosis:\n  " + "\n  ".join(([where] if where else []) + lines)


def should(blank: str, equation: str | None = None) -> str:
    """The line every diagnosis ends with: what the blank should compute. equation: the one its
    declaration gives (course.yaml). blank: its name, or a pair's array ("layer_gradients dW")."""
    return f"{blank.split()[0]} should compute {equation}" if equation else f"(no equation is declared for {blank})"


def diagnose(blank: str, got: object, expected: object, args: Sequence[Any], equation: str | None = None) -> str:
    """Lines that say what the wrong answer got (for expected, from args) most likely is, ending
    with the equation (see should)."""
    equation = should(blank, equation)
    mistake = known_mistake(blank, got, args)
    if mistake:
        try:  # and what the numbers show, in short, when a generic pattern fits too
            seen = pattern(blank, got, expected, args)
        except (ValueError, TypeError):
            seen = None
        return f"diagnosis: {mistake}{f' ({seen.split(chr(58))[0]})' if seen else ''}.\n{equation}"
    if isinstance(expected, dict) and isinstance(got, dict) and set(got) == set(expected):
        return f"{by_key(blank, got, expected, args)}\n{equation}"
    found = pattern(blank, got, expected, args)
    if found:
        return f"diagnosis: {found}.\n{equation}"
    return f"{_unmatched(got, expected)}.\n{equation}"


def overflow(blank: str, equation: str | None = None) -> str:
    """The diagnosis of NaN, inf or an overflow warning in the blank's answer."""
    return f"diagnosis: {_nonfinite(blank)}.\n{should(blank, equation)}"


def diagnose_crash(blank: str, message: str, args: Sequence[Any], equation: str | None = None) -> str:
    """A line for a call that failed instead of answering: a shape error (from NumPy's
    message) gets the shapes the equation gives; NaN or inf gets where it comes from."""
    if "NaN" in message or "inf" in message.split(":")[0] or "overflow" in message:
        return overflow(blank, equation)
    if any(w in message for w in ("broadcast", "matmul", "shapes", "not aligned", "dimension")):
        story = shape_story(blank, args)
        if story:
            return f"diagnosis: the shapes do not fit together. {story}.\n{should(blank, equation)}"
    return ""
