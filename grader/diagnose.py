"""Diagnoses: what a wrong answer most likely is, read off the numbers.

When a value check fails, the grader holds the blank's inputs, the reference's answer and
the student's. Each blank has a short list of the mistakes students make, each written
here as the wrong formula itself, computed in NumPy by trusted code from the same inputs.
When the student's answer equals one of them, the diagnosis names it, quotes the equation
the blank should implement (the notes' notation) and says what the numbers show. Generic
patterns (transposed, a constant factor such as m, 1/m or -1) come next; when nothing
matches, it says so and shows the worst entries side by side.
"""
import numpy as np

EQUATIONS = {
    "relu": "f(z) = max(0, z)",
    "relu_prime": "f'(z) = 1 where z > 0, else 0",
    "sigmoid": "sigma(z) = 1 / (1 + exp(-z))",
    "sigmoid_prime": "sigma'(z) = sigma(z) (1 - sigma(z))",
    "softmax": "a_k = exp(z_k) / sum_j exp(z_j), each column on its own",
    "cross_entropy": "L = -(1/m) sum_i sum_k y_ki log a_ki",
    "output_delta": "delta(L) = (a(L) - y) / m",
    "hidden_delta": "delta(l) = (W(l+1))^T delta(l+1) (*) f'(z(l))",
    "layer_gradients": "dL/dW(l) = delta(l) (a(l-1))^T and dL/db(l) = sum over the columns of delta(l)",
    "layer_gradients dW": "dL/dW(l) = delta(l) (a(l-1))^T",
    "layer_gradients db": "dL/db(l) = sum over the columns of delta(l)",
    "sgd_update": "W(l) <- W(l) - lr dL/dW(l), and the same for b(l)",
    "backward": "dL/dW(l) = delta(l) (a(l-1))^T, dL/db(l) = sum of delta(l)'s columns, from delta(L) = (a(L) - y) / m",
}


def _sigmoid(z):  # the plain formula: the stable one is the students' to find (and ships with the grader)
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-z))


def _softmax(z, axis=0):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _m(y):
    return y.shape[1]


# blank -> [(what the numbers show, the wrong formula as a function of the blank's inputs)]
MISTAKES = {
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
        ("each ROW sums to 1: the sum runs over axis 1 (the examples) instead of axis 0 (the classes)",
         lambda z: _softmax(z, axis=1)),
        ("the whole array sums to 1: the sum needs axis=0 (and keepdims=True), one sum per column",
         lambda z: np.exp(z - z.max()) / np.exp(z - z.max()).sum()),
        ("it returns exp(z) without dividing by the column's sum", lambda z: np.exp(z)),
    ],
    "cross_entropy": [
        ("it is the SUM over the m examples: the loss is the mean, divide by m = y.shape[1]",
         lambda a, y: -np.sum(y * np.log(a))),
        ("the minus sign is missing: log a is negative, so the loss must be -(1/m) sum y log a",
         lambda a, y: np.sum(y * np.log(a)) / _m(y)),
        ("it averages over all n x m entries: divide by the m examples only (y.shape[1])",
         lambda a, y: -np.mean(y * np.log(a))),
        ("it divides by the number of classes n = y.shape[0], not by the m examples (y.shape[1])",
         lambda a, y: -np.sum(y * np.log(a)) / y.shape[0]),
    ],
    "output_delta": [
        ("it is a - y without the 1/m: the loss is a mean over the m examples", lambda a, y: a - y),
        ("the sign is flipped: it is (y - a) / m", lambda a, y: (y - a) / _m(y)),
        ("it divides by the number of classes n = y.shape[0], not by m = y.shape[1]",
         lambda a, y: (a - y) / y.shape[0]),
    ],
    "hidden_delta": [
        ("the f'(z(l)) factor is missing: it returns (W(l+1))^T delta(l+1) alone", lambda W, d, z: W.T @ d),
        ("it multiplies by relu(z) instead of relu'(z)", lambda W, d, z: (W.T @ d) * np.maximum(z, 0)),
        ("f' is applied to (W(l+1))^T delta(l+1) instead of to z(l)",
         lambda W, d, z: (W.T @ d) * ((W.T @ d) > 0)),
    ],
    "layer_gradients dW": [
        ("it is a(l-1) delta(l)^T: the transpose of delta(l) (a(l-1))^T; swap the factors",
         lambda d, a: a @ d.T),
        ("it is divided by m: the 1/m is already inside delta(l)", lambda d, a: d @ a.T / d.shape[1]),
    ],
    "layer_gradients db": [
        ("it is the MEAN over the columns, not the sum: the 1/m is already inside delta(l)",
         lambda d, a: d.mean(axis=1, keepdims=True)),
        ("it sums over the rows (axis 0) instead of the columns (axis 1)", lambda d, a: d.sum(axis=0, keepdims=True)),
    ],
    "sgd_update": [
        ("it moves WITH the gradient (params + lr grads): descent subtracts",
         lambda p, g, lr: {k: p[k] + lr * g[k] for k in p}),
        ("the learning rate is missing: params - grads", lambda p, g, lr: {k: p[k] - g[k] for k in p}),
        ("it returns params unchanged", lambda p, g, lr: dict(p)),
    ],
}


def _same(got, candidate):
    if isinstance(candidate, dict):
        return isinstance(got, dict) and set(got) == set(candidate) and all(
            _same(got[k], candidate[k]) for k in candidate)
    if not isinstance(got, np.ndarray):
        return False
    got, candidate = got.astype(float), np.asarray(candidate, float)
    return got.shape == candidate.shape and bool(np.allclose(got, candidate, rtol=1e-6, atol=1e-9))


def known_mistake(blank, got, args):
    """The description of the first listed mistake whose formula gives got, or None."""
    for description, formula in MISTAKES.get(blank, []):
        try:
            with np.errstate(all="ignore"):
                candidate = formula(*args)
        except (ValueError, TypeError, KeyError, IndexError):
            continue  # the inputs do not fit this mistake (shapes)
        if _same(got, candidate):
            return description
    return None


def side_by_side(got, expected, n=3):
    """The n entries where got and expected differ most, as '[i, j] got x, expected y'
    (for two arrays of one shape; '' for anything else, such as a pair of arrays)."""
    if not isinstance(got, np.ndarray) or not isinstance(expected, np.ndarray) or got.shape != expected.shape \
            or not got.size:
        return ""
    got, expected = got.astype(float), expected.astype(float)
    diff = np.abs(got - expected)
    worst = np.argsort(diff, axis=None)[::-1][:n]
    cells = [np.unravel_index(i, got.shape) for i in worst if diff.flat[i] > 0]
    return "; ".join(f"[{', '.join(map(str, c))}] got {got[c]:.6g}, expected {expected[c]:.6g}" for c in cells)


def diagnose(blank, got, expected, args):
    """Lines that say what the wrong answer got (for expected, from args) most likely is.
    blank names an entry of EQUATIONS (a blank, or "layer_gradients dW" / "... db")."""
    equation = f"{blank.split()[0]} should compute {EQUATIONS[blank]}"
    mistake = known_mistake(blank, got, args)
    if not isinstance(expected, np.ndarray):  # a dict of gradients, a pair (dW, db)
        return f"diagnosis: {mistake}.\n{equation}" if mistake else f"no typical mistake matches these numbers.\n{equation}"
    if mistake:
        return f"diagnosis: {mistake}.\n{equation}"
    shown = side_by_side(got, expected)
    return ("no typical mistake matches these numbers" + (f"; the largest differences: {shown}" if shown else "")
            + f".\n{equation}")
