"""One bug, one deduction: a table of single-blank bugs, each graded officially (`grade batch
--hidden`), must lose points in its own blank's part and nowhere else (MNIST only where the bug
changes what training computes); correct code written differently must get every point.

Each row is the reference with one function redefined at the end of its file, as a student
would write it. The checker is tested too: a bug that loses nothing fails the test."""
import csv
import json
import re
import subprocess

import pytest
from helpers import EXERCISES, GRADE, ROOT, SOLUTIONS, copy_of, private_tmp

from grader.config import load as load_course

pytestmark = pytest.mark.slow  # one `grade batch --hidden` of 60 submissions (42 bugs, 16 correct, the reference, the stubs) for all its tests: about 2 minutes



def backward(grads='layer_gradients(delta, cache[f"a{l - 1}"])', dW_db="",
             step='hidden_delta(params[f"W{l}"], delta, cache[f"z{l - 1}"])', stop=0):
    """The reference's backward with one piece changed (these tests are not shipped to students)."""
    return "\n".join(line for line in [
        "def backward(params, cache, y):",
        "    L = len(params) // 2",
        "    grads = {}",
        '    delta = output_delta(cache[f"a{L}"], y)',
        f"    for l in range(L, {stop}, -1):",
        f"        {dW_db}" if dW_db else "",
        f'        grads[f"W{{l}}"], grads[f"b{{l}}"] = {grads}',
        "        if l > 1:",
        f"            delta = {step}",
        "    return grads"] if line)


# (id, module, code appended, the blank's part, does it change what MNIST training computes?)
BUGS = [
    ("relu leaky", "activations", "def relu(z):\n    return np.maximum(z, 0.01 * z)", "activations", True),
    ("relu in place", "activations", "def relu(z):\n    z[z < 0] = 0\n    return z", "activations", False),
    ("relu_prime doubled", "activations", "def relu_prime(z):\n    return 2.0 * (z > 0)", "activations", True),
    ("relu_prime is relu", "activations", "def relu_prime(z):\n    return np.maximum(z, 0)", "activations", True),
    ("relu_prime in place", "activations",
     "def relu_prime(z):\n    z[z <= 0] = 0\n    z[z > 0] = 1\n    return z", "activations", False),
    ("sigmoid sign", "activations", "def sigmoid(z):\n    return 1 / (1 + np.exp(z))", "activations", False),
    ("sigmoid_prime of z", "activations", "def sigmoid_prime(z):\n    return sigmoid(z) * (1 - z)", "activations",
     False),
    ("softmax unshifted", "softmax_ce", "def softmax(z):\n    e = np.exp(z)\n    return e / e.sum(axis=0, keepdims=True)",
     "softmax_ce", False),
    ("softmax global max", "softmax_ce",
     "def softmax(z):\n    e = np.exp(z - z.max())\n    return e / e.sum(axis=0, keepdims=True)", "softmax_ce", False),
    ("softmax row max", "softmax_ce",
     "def softmax(z):\n    e = np.exp(z - z.max(axis=1, keepdims=True))\n    return e / e.sum(axis=0, keepdims=True)",
     "softmax_ce", True),
    ("softmax over rows", "softmax_ce",
     "def softmax(z):\n    e = np.exp(z - z.max(axis=0))\n    return e / e.sum(axis=1, keepdims=True)", "softmax_ce", True),
    ("softmax flat for one example", "softmax_ce",
     "def softmax(z):\n    e = np.exp(z - z.max(axis=0))\n    return np.squeeze(e / e.sum(axis=0))", "softmax_ce", False),
    ("softmax min shift", "softmax_ce",
     "def softmax(z):\n    e = np.exp(z - z.min(axis=0, keepdims=True))\n    return e / e.sum(axis=0, keepdims=True)",
     "softmax_ce", False),
    ("softmax mean shift", "softmax_ce",
     "def softmax(z):\n    e = np.exp(z - z.mean(axis=0, keepdims=True))\n    return e / e.sum(axis=0, keepdims=True)",
     "softmax_ce", False),
    ("cross_entropy per example", "softmax_ce",  # the training loop's loss history is for plots only
     "def cross_entropy(a, y):\n    return -np.sum(y * np.log(np.maximum(a, 1e-12)), axis=0)", "softmax_ce", False),
    ("cross_entropy a sum", "softmax_ce",
     "def cross_entropy(a, y):\n    return float(-np.sum(y * np.log(np.maximum(a, 1e-12))))", "softmax_ce", False),
    ("cross_entropy epsilon", "softmax_ce",
     "def cross_entropy(a, y):\n    return float(-np.sum(y * np.log(a + 1e-3)) / y.shape[1])", "softmax_ce", False),
    ("cross_entropy over n", "softmax_ce",
     "def cross_entropy(a, y):\n    return float(-np.sum(y * np.log(np.maximum(a, 1e-12))) / y.shape[0])", "softmax_ce",
     False),
    ("output_delta without 1/m", "softmax_ce", "def output_delta(a, y):\n    return a - y", "softmax_ce", True),
    ("output_delta sign", "softmax_ce", "def output_delta(a, y):\n    return (y - a) / y.shape[1]", "softmax_ce", True),
    ("output_delta over n", "softmax_ce", "def output_delta(a, y):\n    return (a - y) / a.shape[0]", "softmax_ce",
     True),
    ("hidden_delta no transpose", "backprop",
     "def hidden_delta(W_next, delta_next, z):\n    return (W_next @ delta_next) * relu_prime(z)", "backprop", True),
    ("hidden_delta f instead of f'", "backprop",
     "def hidden_delta(W_next, delta_next, z):\n    return (W_next.T @ delta_next) * relu(z)\nfrom activations import relu",
     "backprop", True),
    ("hidden_delta without f'", "backprop",
     "def hidden_delta(W_next, delta_next, z):\n    return W_next.T @ delta_next", "backprop", True),
    ("hidden_delta in place", "backprop", "def hidden_delta(W_next, delta_next, z):\n    z[z <= 0] = 0\n"
     "    z[z > 0] = 1\n    return (W_next.T @ delta_next) * z", "backprop", False),
    ("backward transposes square dW", "backprop", backward(
        grads='dW.T if dW.shape[0] == dW.shape[1] else dW, db', dW_db='dW, db = layer_gradients(delta, cache[f"a{l - 1}"])'),
     "backprop", False),
    ("backward a(l) for a(l-1)", "backprop", backward(grads='layer_gradients(delta, cache[f"a{l}"])'), "backprop", True),
    ("backward stops before layer 1", "backprop", backward(stop=1), "backprop", True),
    ("backward z(l) for z(l-1)", "backprop", backward(step='hidden_delta(params[f"W{l}"], delta, cache[f"z{l}"])'),
     "backprop", True),
    ("backward z(l-1) for a(l-1)", "backprop",
     backward(grads='layer_gradients(delta, cache[f"z{l - 1}"] if l > 1 else cache["a0"])'), "backprop", True),
    # a loop written for the public net's three layers: the square case (two) and the hidden one (four) differ
    ("backward for three layers only", "backprop", backward().replace("    L = len(params) // 2", "    L = 3"),
     "backprop", True),
    # the dicts themselves changed (only the child sees that: it says so, worker.rebound)
    ("sgd_update rebinds params' keys", "updates",
     "def sgd_update(params, grads, lr):\n    for k in list(params):\n        params[k] = params[k] - lr * grads[k]\n"
     "    return params", "updates", False),
    ("backward writes into the cache dict", "backprop",
     backward().replace("    grads = {}", '    grads = {}\n    cache[f"a{L}"] = cache[f"a{L}"] * 1.0'), "backprop", False),
    ("db over the rows", "updates",
     "def layer_gradients(delta, a_prev):\n    return delta @ a_prev.T, delta.sum(axis=0, keepdims=True)", "updates",
     True),
    ("db without keepdims", "updates",
     "def layer_gradients(delta, a_prev):\n    return delta @ a_prev.T, delta.sum(axis=1)", "updates", True),
    ("db a mean", "updates",
     "def layer_gradients(delta, a_prev):\n    return delta @ a_prev.T, delta.mean(axis=1, keepdims=True)", "updates",
     True),
    ("dW transposed when square", "updates", """
def layer_gradients(delta, a_prev):
    dW = delta @ a_prev.T
    return (dW.T if dW.shape[0] == dW.shape[1] else dW), delta.sum(axis=1, keepdims=True)""", "updates", False),
    ("sgd_update plus", "updates",
     "def sgd_update(params, grads, lr):\n    return {k: params[k] + lr * grads[k] for k in params}", "updates", True),
    ("sgd_update leaves b", "updates",
     "def sgd_update(params, grads, lr):\n    return {k: params[k] - lr * grads[k] if k[0] == 'W' else params[k] "
     "for k in params}", "updates", True),
    ("sgd_update pairs by position", "updates", "def sgd_update(params, grads, lr):\n"
     "    return {k: p - lr * g for (k, p), g in zip(params.items(), grads.values())}", "updates", True),
    ("sgd_update in place", "updates",
     "def sgd_update(params, grads, lr):\n    for k in params:\n        params[k] -= lr * grads[k]\n    return params",
     "updates", False),
    ("sgd_update lr fixed", "updates",
     "def sgd_update(params, grads, lr):\n    return {k: params[k] - 0.1 * grads[k] for k in params}", "updates", True),
]

CORRECT = [  # (id, module, code appended): each must get 100 of 100
    ("relu where", "activations", "def relu(z):\n    return np.where(z > 0, z, 0.0)"),
    ("relu clip", "activations", "def relu(z):\n    return z.clip(min=0)"),
    ("relu_prime boolean", "activations", "def relu_prime(z):\n    return z > 0"),
    ("relu_prime heaviside", "activations", "def relu_prime(z):\n    return np.heaviside(z, 0.0)"),
    ("sigmoid naive", "activations", "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))"),
    ("sigmoid tanh", "activations", "def sigmoid(z):\n    return 0.5 * (1 + np.tanh(z / 2))"),
    ("sigmoid_prime inline", "activations",
     "def sigmoid_prime(z):\n    e = np.exp(-np.abs(z))\n    return e / (1 + e) ** 2"),
    ("softmax logsumexp", "softmax_ce", """
def softmax(z):
    c = z.max(axis=0, keepdims=True)
    return np.exp(z - c - np.log(np.exp(z - c).sum(axis=0, keepdims=True)))"""),
    ("cross_entropy mean of columns", "softmax_ce",
     "def cross_entropy(a, y):\n    return -np.mean(np.sum(y * np.log(np.clip(a, 1e-12, None)), axis=0))"),
    ("output_delta times 1/m", "softmax_ce", "def output_delta(a, y):\n    return (a - y) * (1.0 / a.shape[1])"),
    ("hidden_delta inline", "backprop",
     "def hidden_delta(W_next, delta_next, z):\n    return np.dot(W_next.T, delta_next) * (z > 0)\nimport numpy as np"),
    ("backward recursive, keywords, module attributes", "backprop", """
import updates
def backward(params, cache, y):
    L = len(params) // 2
    def go(l, delta, grads):
        grads[f"W{l}"], grads[f"b{l}"] = updates.layer_gradients(a_prev=cache[f"a{l - 1}"], delta=delta)
        return grads if l == 1 else go(l - 1, hidden_delta(params[f"W{l}"], delta, z=cache[f"z{l - 1}"]), grads)
    return go(L, output_delta(cache[f"a{L}"], y), {})"""),
    ("backward without helpers", "backprop", """
import numpy as np
def backward(params, cache, y):
    L = len(params) // 2
    grads, delta = {}, (cache[f"a{L}"] - y) / y.shape[1]
    for l in range(L, 0, -1):
        grads[f"W{l}"] = delta @ cache[f"a{l - 1}"].T
        grads[f"b{l}"] = delta.sum(axis=1, keepdims=True)
        if l > 1:
            delta = (params[f"W{l}"].T @ delta) * (cache[f"z{l - 1}"] > 0)
    return grads"""),
    ("layer_gradients einsum", "updates",
     "import numpy as np\ndef layer_gradients(delta, a_prev):\n    return np.einsum('im,jm->ij', delta, a_prev), "
     "np.sum(delta, axis=1).reshape(-1, 1)"),
    ("sgd_update float32", "updates", "import numpy as np\ndef sgd_update(params, grads, lr):\n"
     "    return {k: (params[k] - lr * grads[k]).astype(np.float32) for k in params}"),
    ("sgd_update on copies", "updates", """
def sgd_update(params, grads, lr):
    new = {k: v.copy() for k, v in params.items()}
    for k in new:
        new[k] -= lr * grads[k]
    return new"""),
]


@pytest.fixture(scope="module")
def gradebook(tmp_path_factory):
    """Every row graded officially in one `grade batch -j 2 --hidden` run (also the batch path)."""
    root = tmp_path_factory.mktemp("fairness")
    folder = root / "submissions"
    for name, module, code, *_ in BUGS + CORRECT:
        sub = copy_of(SOLUTIONS, folder / folder_name(name))
        with open(sub / f"{module}.py", "a") as f:
            f.write("\n\n" + code.strip() + "\n")
    copy_of(EXERCISES, folder / "the_stubs")
    copy_of(SOLUTIONS, folder / "the_reference")
    out = root / "out"
    proc = subprocess.run([*GRADE, "batch", str(folder), "--out", str(out), "-j", "2", "--hidden",
                           str(ROOT / "hidden" / "backprop" / "vectors.json")], capture_output=True, text=True, cwd=ROOT,
                          timeout=900, env=private_tmp(root / "tmp"))
    assert proc.returncode == 0, proc.stderr
    with open(out / "gradebook.csv") as f:
        return {row["student"]: row for row in csv.DictReader(f)}, out


def folder_name(name):
    return re.sub(r"\W+", "_", name)


def row(gradebook, name):
    return gradebook[0][folder_name(name)]


def lost(entry):
    parts = load_course(ROOT / "course.yaml", "backprop").parts
    return {p: parts[p].points - float(entry[p]) for p in parts if parts[p].points - float(entry[p]) > 1e-6}


@pytest.mark.parametrize("name,module,code,part,trains", BUGS, ids=[b[0] for b in BUGS])
def test_a_bug_costs_points_in_its_own_part_only(gradebook, name, module, code, part, trains):
    entry = row(gradebook, name)
    losses = lost(entry)
    assert part in losses, f"{name}: the checks did not catch it ({entry})"
    allowed = {part, "mnist"} if trains else {part}
    assert set(losses) <= allowed, f"{name}: lost points outside {sorted(allowed)}: {losses}"


@pytest.mark.parametrize("name,module,code", CORRECT, ids=[c[0] for c in CORRECT])
def test_correct_code_written_differently_gets_every_point(gradebook, name, module, code):
    entry = row(gradebook, name)
    assert float(entry["total"]) == pytest.approx(100), f"{name}: {lost(entry)} ({entry['message']})"


def test_reference_and_stubs_keep_their_scores(gradebook):
    assert float(row(gradebook, "the reference")["total"]) == pytest.approx(100)
    assert float(row(gradebook, "the stubs")["total"]) == 0


def report(gradebook, name):
    path = gradebook[1] / "students" / folder_name(name) / "results.json"
    return {t["name"]: t for t in json.loads(path.read_text())["tests"]}


def test_messages_say_what_was_verified(gradebook):
    tests = report(gradebook, "sgd_update leaves b")
    moved = next(t for n, t in tests.items() if "moves every parameter" in n)
    assert "left b1 unchanged" in moved["output"] and "along its gradient" not in moved["output"]
    tests = report(gradebook, "backward transposes square dW")
    values = next(t for n, t in tests.items() if "backward matches the reference" in n)
    assert "every db is right" in values["output"] and "hidden_delta" not in values["output"]
    # an attempt that is wrong costs its values, never its part's purity too (the gate: common.relation)
    for name in ("db over the rows", "backward z(l-1) for a(l-1)"):
        purity = next(t for n, t in report(gradebook, name).items() if "do not modify their inputs" in n)
        assert purity["status"] == "passed", (name, purity["output"])
    three = report(gradebook, "backward for three layers only")
    values = next(t for n, t in three.items() if "backward matches the reference" in n)
    assert values["status"] == "failed" and "KeyError" in values["output"], values["output"]
    tests = report(gradebook, "relu_prime doubled")
    mnist = next(t for n, t in tests.items() if n.startswith("MNIST"))
    if mnist["status"] != "passed":
        assert "did not come from" not in mnist["output"] and "relu_prime fails its own checks" in mnist["output"]
