"""Hidden checks: `grade generate` records them apart, `grade check --hidden` adds them, they
catch answers hard-coded for the public vectors, and nothing of their inputs or expected
values reaches any report a student sees."""
import json
import subprocess

import pytest
from helpers import EXERCISES, GRADE, ROOT, SOLUTIONS, copy_of, grade_json

from grader import vectors
from grader.blanks import BLANKS
from grader.generate import _numbers, hidden_seed

HIDDEN = ROOT / "hidden" / "vectors.json"
PUBLIC = json.loads((ROOT / "grader" / "vectors.json").read_text())


def lookup_relu(folder):
    """relu that answers the public vector from a table and returns zeros otherwise."""
    with open(folder / "activations.py", "a") as f:
        f.write(f"""

_CASE = np.array({PUBLIC['relu']['args'][0]!r})
_ANSWER = np.array({PUBLIC['relu']['expected']!r})


def relu(z):
    if np.shape(z) == _CASE.shape and np.allclose(z, _CASE):
        return _ANSWER.copy()
    return np.zeros(np.shape(z))
""")
    return folder


def test_hidden_file_has_every_blank_on_other_inputs():
    hidden = vectors.load_hidden(HIDDEN)
    assert set(hidden) == {f"hidden/{b}" for b in BLANKS}
    public = vectors.load()
    differ = [b for b in BLANKS if json.dumps(vectors.to_json(hidden[f"hidden/{b}"][0])) !=
              json.dumps(vectors.to_json(public[b][0]))]
    assert differ == list(BLANKS)


def test_hard_coded_public_answer_passes_in_public_and_fails_hidden(tmp_path):
    folder = lookup_relu(copy_of(SOLUTIONS, tmp_path / "lookup"))
    _, public, _ = grade_json(folder, "--part", "activations")
    by_name = {t["name"]: t for t in public["tests"]}
    assert by_name["Activation functions: relu matches the reference"]["status"] == "passed"
    assert not any(t["name"].endswith("on hidden inputs") for t in public["tests"])
    assert "official grading adds hidden ones" in public["output"]

    code, official, _ = grade_json(folder, "--part", "activations", "--hidden", str(HIDDEN))
    by_name = {t["name"]: t for t in official["tests"]}
    relu = by_name["Activation functions: relu on hidden inputs"]
    assert code == 1 and relu["status"] == "failed" and relu["visibility"] == "after_published"
    assert "does not match the reference on the hidden inputs" in relu["output"]
    assert by_name["Activation functions: sigmoid on hidden inputs"]["status"] == "passed"
    assert official["score"] < public["score"]
    assert "official grading adds hidden ones" not in official["output"]


def test_reference_gets_full_marks_with_hidden_checks():
    code, results, _ = grade_json(SOLUTIONS, "--part", "activations", "--part", "backprop", "--part", "updates",
                                  "--part", "softmax_ce", "--hidden", str(HIDDEN))
    assert code == 0 and results["score"] == 75
    assert sum(t["name"].endswith("on hidden inputs") for t in results["tests"]) == len(BLANKS)


def numbers(case):
    """Every input number of a case, as a student's print or exception message could show it."""
    flat = _numbers(case["args"])
    return [v for v in flat if abs(v) > 0.01]


LEAKER = '''
import sys


def _leak(*args):
    text = " | ".join(repr(np.asarray(a).tolist()) + " " + np.array2string(np.asarray(a), precision=6) for a in args)
    print(text)
    print(text, file=sys.stderr)
    raise ValueError(text)


relu = relu_prime = sigmoid = sigmoid_prime = _leak
'''


@pytest.mark.parametrize("fmt", ["text", "json", "junit", "markdown", "github"])
def test_no_hidden_input_reaches_any_report(tmp_path, fmt):
    """The blanks print their inputs and raise them in their exception messages. The public
    inputs do appear in the report (the checker below can see a leak), the hidden never do."""
    folder = copy_of(EXERCISES, tmp_path / "leaker")
    with open(folder / "activations.py", "a") as f:
        f.write(LEAKER)
    report_dir, summary = tmp_path / "report", tmp_path / "summary.md"
    proc = subprocess.run([*GRADE, "check", str(folder), "--part", "activations", "--hidden", str(HIDDEN),
                           "--format", fmt, "--report-dir", str(report_dir)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300, env={**__import__("os").environ, "GITHUB_STEP_SUMMARY": str(summary)})
    assert proc.returncode == 1, proc.stderr
    seen = proc.stdout + proc.stderr + (summary.read_text() if summary.exists() else "")
    seen += "".join(p.read_text(errors="replace") for p in report_dir.rglob("*") if p.is_file())
    hidden = json.loads(HIDDEN.read_text())["vectors"]
    for blank in ("relu", "relu_prime", "sigmoid", "sigmoid_prime"):
        for v in numbers(hidden[f"hidden/{blank}"])[:8]:
            assert repr(v) not in seen and f"{v:.6f}" not in seen, f"hidden input {v!r} of {blank} leaked"
    # test the tester: the public inputs, quoted the same way, are found
    assert any(repr(v) in seen or f"{v:.6f}" in seen for v in numbers(PUBLIC["relu"]))


def test_hidden_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "hidden.json"
    bad.write_text(json.dumps({"seed": 1, "vectors": {"hidden/relu": PUBLIC["relu"]}}))
    with pytest.raises(vectors.HiddenError, match=r"hidden\.json: no hidden vectors for relu_prime"):
        vectors.load_hidden(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(vectors.HiddenError, match=r"hidden\.json: not a hidden vectors file"):
        vectors.load_hidden(bad)
    proc = subprocess.run([*GRADE, "check", str(EXERCISES), "--hidden", str(bad)], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 1 and "hidden.json: not a hidden vectors file" in proc.stderr


def test_generate_keeps_the_hidden_seed_and_flags_a_missing_file(tmp_path):
    seed, kept = hidden_seed(HIDDEN)
    assert kept and seed == json.loads(HIDDEN.read_text())["seed"]
    fresh, kept = hidden_seed(tmp_path / "none.json")
    assert not kept and fresh != seed
    proc = subprocess.run([*GRADE, "generate", "--check", "--hidden", str(tmp_path / "none.json")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 1 and "stale:" in proc.stderr and "none.json" in proc.stderr
