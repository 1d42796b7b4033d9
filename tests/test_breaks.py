"""Test the tester: break one blank of a copy of the reference in a typical way, and
assert that its part loses points and the message names what is wrong."""
import pytest

from helpers import SOLUTIONS, break_line, copy_of, grade_json

pytestmark = pytest.mark.slow  # each test runs `grade check` on a broken copy (1-2.6 s each)

BREAKS = [
    # (id, file, reference line, broken line, part, failing check, words in its message)
    ("sign flipped", "softmax_ce.py", "return (a - y) / m", "return (y - a) / m",
     "softmax_ce", "output_delta matches", "sign is flipped"),
    ("missing 1/m", "softmax_ce.py", "return (a - y) / m", "return a - y",
     "softmax_ce", "output_delta matches", "m = 5 times too large"),
    ("transposed product", "updates.py", "dW = delta @ a_prev.T", "dW = a_prev @ delta.T",
     "updates", "layer_gradients' dW matches", "transpose"),
    ("relu in place of relu_prime", "activations.py", "return (z > 0).astype(z.dtype)", "return np.maximum(z, 0)",
     "activations", "relu_prime agrees with central differences", "relu_prime(z) disagrees with central differences of relu"),
    ("softmax without the max shift", "softmax_ce.py", "e = np.exp(z - z.max(axis=0, keepdims=True))", "e = np.exp(z)",
     "softmax_ce", "softmax is finite and exact", "overflow encountered in exp"),
    ("update with + instead of -", "updates.py", "params[name] - lr * grads[name]", "params[name] + lr * grads[name]",
     "updates", "moves every parameter", "along its gradient, not against it"),
    ("db averaged instead of summed", "updates.py", "db = delta.sum(axis=1, keepdims=True)",
     "db = delta.mean(axis=1, keepdims=True)", "updates", "layer_gradients' db matches", "m = 5 times too small"),
    ("sigmoid_prime with a plus", "activations.py", "return s * (1 - s)", "return s * (1 + s)",
     "activations", "sigmoid_prime agrees with central differences", "relative error"),
    ("hidden_delta without f'(z)", "backprop.py", "return (W_next.T @ delta_next) * relu_prime(z)",
     "return W_next.T @ delta_next", "backprop", "hidden_delta agrees with central differences", "relative error"),
]


@pytest.mark.parametrize("name, filename, old, new, part, check, words", BREAKS, ids=[b[0] for b in BREAKS])
def test_typical_mistake_loses_points(tmp_path, name, filename, old, new, part, check, words):
    submission = copy_of(SOLUTIONS, tmp_path / "sub")
    break_line(submission, filename, old, new)
    code, results, stderr = grade_json(submission, "--part", part, "--report-dir", str(tmp_path / "r"))
    assert code == 1
    tests = results["tests"]
    assert results["score"] < sum(t["max_score"] for t in tests), f"{name}: the part kept all its points"
    failed = [t for t in tests if t["status"] == "failed"]
    named = [t for t in failed if check in t["name"]]
    assert named, f"{name}: expected a failed check named {check!r}; failed: {[t['name'] for t in failed]}"
    assert words in named[0]["output"], named[0]["output"]
    assert "Traceback" not in stderr and "grader error" not in str(results)


def test_the_reference_passes_the_same_parts(tmp_path):
    """The control: the unbroken copy scores full marks on every non-MNIST part."""
    submission = copy_of(SOLUTIONS, tmp_path / "sub")
    parts = ["activations", "softmax_ce", "backprop", "updates"]
    code, results, _ = grade_json(submission, *[a for p in parts for a in ("--part", p)])
    assert code == 0, [t for t in results["tests"] if t["status"] != "passed"]
    assert results["score"] == 75


def test_a_helpers_bug_costs_the_helpers_checks_only(tmp_path):
    """db averaged: layer_gradients' checks fail; backward's pass, because the helpers it calls
    answer as the reference's did on the same inputs (one bug, one deduction)."""
    submission = copy_of(SOLUTIONS, tmp_path / "sub")
    break_line(submission, "updates.py", "db = delta.sum(axis=1, keepdims=True)", "db = delta.mean(axis=1, keepdims=True)")
    _, results, _ = grade_json(submission, "--part", "backprop", "--part", "updates")
    by_part = {}
    for t in results["tests"]:
        by_part.setdefault(t["extra_data"]["part"], []).append(t["status"])
    assert set(by_part["backprop"]) == {"passed"}
    assert "failed" in by_part["updates"]


def test_backward_failure_names_a_broken_helper_it_called_its_own_way(tmp_path):
    """A backward that passes a(l) where the recursion has a(l-1) gets the student's own
    layer_gradients (the reference never passed those inputs), which is broken too: the note
    says both, each verified by the grader."""
    submission = copy_of(SOLUTIONS, tmp_path / "sub")
    break_line(submission, "updates.py", "db = delta.sum(axis=1, keepdims=True)", "db = delta.mean(axis=1, keepdims=True)")
    break_line(submission, "backprop.py", 'layer_gradients(delta, cache[f"a{l - 1}"])', 'layer_gradients(delta, cache[f"a{l}"])')
    _, results, _ = grade_json(submission, "--part", "backprop")
    backward = [t for t in results["tests"] if "backward matches" in t["name"]][0]
    assert backward["status"] == "failed"
    assert "called layer_gradients with arguments the reference's backward never passes there" in backward["output"]
    assert "layer_gradients fails its own checks" in backward["output"]


def test_a_training_that_fails_names_the_blank_failing_its_own_checks(tmp_path):
    """The MNIST check's likely cause lists the blanks training runs (the network's roles and
    backward's helpers, from the declarations and the recorded calls) that fail their own checks."""
    submission = copy_of(SOLUTIONS, tmp_path / "sub")
    break_line(submission, "updates.py", "params[name] - lr * grads[name]", "params[name] + lr * grads[name]")
    code, results, _ = grade_json(submission, "--part", "mnist", "--report-dir", str(tmp_path / "r"))
    [mnist] = results["tests"]
    assert code == 1 and mnist["status"] == "failed"
    assert "ikely cause: sgd_update fails its own checks, and training runs every one of them" in mnist["output"]
    # test the tester: the unbroken copy trains, and names no cause
    code, results, _ = grade_json(copy_of(SOLUTIONS, tmp_path / "ok"), "--part", "mnist", "--report-dir",
                                  str(tmp_path / "r2"))
    assert code == 0 and "ikely cause" not in results["tests"][0]["output"]
