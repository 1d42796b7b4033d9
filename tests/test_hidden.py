"""Hidden checks: `grade generate` records them apart, `grade check --hidden` adds them, they
catch answers hard-coded for the public vectors, and nothing of their inputs or expected
values reaches any report a student sees."""
import csv
import json
import subprocess

import numpy as np

import pytest
from helpers import EXERCISES, GRADE, ROOT, SOLUTIONS, copy_of, course_blanks, grade_json, write_course

from grader.grading import vectors
from grader.authoring.generate import _numbers, hidden_seed

BLANKS = course_blanks()
HIDDEN = ROOT / "hidden" / "backprop" / "vectors.json"
PUBLIC = json.loads((ROOT / "exercises" / "backprop" / "vectors.json").read_text())


# one per blank, and one per part of a blank that returns a pair (layer_gradients' dW and db)
HIDDEN_CHECKS = sum(2 if b.returns == "pair" else 1 for b in BLANKS.values())

def lookup(folder, blank, module):
    """blank answers its public vector from a table and returns zeros otherwise."""
    with open(folder / f"{module}.py", "a") as f:
        f.write(f"""

_CASE = np.array({PUBLIC[blank]['args'][0]!r})
_ANSWER = np.array({PUBLIC[blank]['expected']!r})


def {blank}(z):
    if np.shape(z) == _CASE.shape and np.allclose(z, _CASE):
        return _ANSWER.copy()
    return np.zeros(np.shape(z))
""")
    return folder


def test_hidden_file_has_every_blank_on_other_inputs():
    hidden = vectors.load_hidden(HIDDEN, BLANKS)
    assert {name.split("/")[1] for name in hidden} == set(BLANKS)
    public = vectors.load(EXERCISES / "vectors.json", BLANKS)
    assert set(hidden) == {f"hidden/{name}" for name in public if not name.endswith("/central")}
    differ = [b for b in BLANKS if json.dumps(vectors.to_json(hidden[f"hidden/{b}"][0])) !=
              json.dumps(vectors.to_json(public[b][0]))]
    assert differ == list(BLANKS)


@pytest.mark.slow
def test_hard_coded_public_answer_passes_in_public_and_fails_hidden(tmp_path):
    folder = lookup(copy_of(SOLUTIONS, tmp_path / "lookup"), "relu", "activations")
    _, public, _ = grade_json(folder, "--part", "activations")
    by_name = {t["name"]: t for t in public["tests"]}
    assert by_name["Activation functions: relu matches the reference"]["status"] == "passed"
    assert not any(t["name"].endswith("on hidden inputs") for t in public["tests"])
    assert "official grading adds hidden ones" in public["output"]

    code, official, _ = grade_json(folder, "--part", "activations", "--hidden", str(HIDDEN))
    by_name = {t["name"]: t for t in official["tests"]}
    relu = by_name["Activation functions: relu on hidden inputs"]
    assert code == 1 and relu["status"] == "failed" and relu["visibility"] == "after_published"
    assert "does not give the reference's answers on the hidden inputs" in relu["output"]
    assert by_name["Activation functions: sigmoid on hidden inputs"]["status"] == "passed"
    assert official["score"] < public["score"]
    assert "official grading adds hidden ones" not in official["output"]


@pytest.mark.slow
def test_reference_gets_full_marks_with_hidden_checks():
    code, results, _ = grade_json(SOLUTIONS, "--part", "activations", "--part", "backprop", "--part", "updates",
                                  "--part", "softmax_ce", "--hidden", str(HIDDEN))
    assert code == 0 and results["score"] == 75
    assert sum(t["name"].endswith("on hidden inputs") for t in results["tests"]) == HIDDEN_CHECKS


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
@pytest.mark.slow
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
        vectors.load_hidden(bad, BLANKS)
    bad.write_text("[1, 2]")
    with pytest.raises(vectors.HiddenError, match=r"hidden\.json: not a hidden vectors file"):
        vectors.load_hidden(bad, BLANKS)
    proc = subprocess.run([*GRADE, "check", str(EXERCISES), "--hidden", str(bad)], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 2 and "hidden.json: not a hidden vectors file" in proc.stderr


@pytest.mark.slow
def test_generate_keeps_the_hidden_seed_and_flags_a_missing_file(tmp_path):
    seed, kept = hidden_seed(HIDDEN)
    assert kept and seed == json.loads(HIDDEN.read_text())["seed"]
    fresh, kept = hidden_seed(tmp_path / "none.json")
    assert not kept and fresh != seed
    course = write_course(tmp_path / "course.yaml", (ROOT / "course.yaml").read_text())  # no hidden/ beside it
    (tmp_path / "solutions").symlink_to(ROOT / "solutions", target_is_directory=True)
    proc = subprocess.run([*GRADE, "generate", "--check", "--course", str(course)], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 1 and f"stale: {tmp_path / 'hidden' / 'backprop' / 'vectors.json'}" in proc.stderr


SPY = """
import fcntl
import os
import struct

_FD = os.open(np.__file__, os.O_RDONLY)  # a file every child sees, whoever's submission it runs
_ROLE = []
_SEEN = []
_FLOCK = "hh4xqqi4x"  # struct flock on x86_64: type, whence, start, len, pid


def relu(z):
    if not _ROLE:  # the public checks start with relu on a 4x5 array, training with 128x32
        _ROLE.append("public" if np.shape(z) == (4, 5) else "trainer" if np.shape(z)[1:] == (32,) else "hidden")
    if _ROLE[0] == "hidden":  # hold a byte-range lock for as long as this child lives
        fcntl.lockf(_FD, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, 4242)
    elif not _SEEN:
        probe = fcntl.fcntl(_FD, fcntl.F_GETLK, struct.pack(_FLOCK, fcntl.F_WRLCK, 0, 4242, 1, 0))
        if struct.unpack(_FLOCK, probe)[0] != fcntl.F_UNLCK:
            _SEEN.append(1)
    if _SEEN:  # what it would carry out, it shows as a failure: relu's checks or the training
        raise RuntimeError("SPY: a hidden child's lock is visible from " + _ROLE[0])
    return np.maximum(z, 0)
"""


def spy(folder):
    copy_of(SOLUTIONS, folder)
    with open(folder / "activations.py", "a") as f:
        f.write(SPY)
    return folder


def test_the_spy_sees_a_lock_held_by_another_child(tmp_path):
    """Test the tester: two children alive at once do see each other's locks (the red team's
    channel), so the tests below can fail."""
    from grader.sandbox.process import Sandbox, StudentError

    folder = spy(tmp_path / "spy")
    with Sandbox(folder, blanks=BLANKS) as hidden_child, Sandbox(folder, blanks=BLANKS) as public_child:
        hidden_child.call("relu", np.ones((3, 3)))
        with pytest.raises(StudentError, match="SPY: a hidden child's lock is visible from public"):
            public_child.call("relu", np.ones((4, 5)))


@pytest.mark.slow
def test_hidden_checks_run_when_no_other_child_of_the_submission_does(tmp_path):
    folder = spy(tmp_path / "spy")
    report = tmp_path / "report"
    code, results, _ = grade_json(folder, "--hidden", str(HIDDEN), "--report-dir", str(report))
    assert "SPY" not in json.dumps(results)
    assert code == 0 and results["score"] == pytest.approx(100)


@pytest.mark.slow
def test_in_a_batch_no_students_code_runs_beside_a_hidden_check(tmp_path):
    for name in ("a", "b", "c", "d"):
        spy(tmp_path / "in" / name)
    proc = subprocess.run([*GRADE, "batch", str(tmp_path / "in"), "-j", "2", "--hidden", str(HIDDEN), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "4 graded" in proc.stdout
    reports = "".join(p.read_text() for p in (tmp_path / "out").rglob("results.json"))
    assert "SPY" not in reports
    with open(tmp_path / "out" / "gradebook.csv") as f:
        assert [row["total"] for row in csv.DictReader(f)] == ["100.00"] * 4


LINGERER = """
import fcntl
import os
import time

_FD = os.open(np.__file__, os.O_RDONLY)
_ROLE = []


def relu(z):
    if not _ROLE:
        _ROLE.append("public" if np.shape(z) == (4, 5) else "trainer" if np.shape(z)[1:] == (32,) else "hidden")
        if _ROLE[0] == "public" and os.fork() == 0:  # a daemon of the public session holds a lock for a minute
            os.setsid()
            fcntl.lockf(_FD, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, 4343)
            time.sleep(60)
            os._exit(0)
    if _ROLE[0] == "hidden":
        probe = fcntl.fcntl(_FD, fcntl.F_GETLK, struct.pack("hh4xqqi4x", fcntl.F_WRLCK, 0, 4343, 1, 0))
        if struct.unpack("hh4xqqi4x", probe)[0] != fcntl.F_UNLCK:
            raise RuntimeError("SPY: the public session is still running beside the hidden checks")
    return np.maximum(z, 0)


import struct
"""


@pytest.mark.slow
def test_without_isolation_nothing_of_the_public_session_runs_beside_the_hidden_one(tmp_path):
    """Without bubblewrap a setsid() daemon of the public session lived until the end, beside
    the hidden checks (red team). The submission's leftovers are killed between the two
    sessions: the hidden relu sees no lock, and the number killed is said once, for the public
    session only."""
    folder = copy_of(SOLUTIONS, tmp_path / "lingerer")
    with open(folder / "activations.py", "a") as f:
        f.write(LINGERER)
    course = tmp_path / "course.yaml"
    write_course(course, (ROOT / "course.yaml").read_text().replace("isolation: auto", "isolation: off")
                 .replace("reference: solutions", f"reference: {SOLUTIONS.parent}"))
    code, results, _ = grade_json(folder, "--part", "activations", "--hidden", str(HIDDEN), "--course", str(course),
                                  "--report-dir", str(tmp_path / "r"))
    assert "SPY" not in json.dumps(results)
    assert code == 0 and results["score"] == 15, [t["output"] for t in results["tests"] if t["status"] != "passed"]
    assert "your code left 1 process(es) running after its checks" in results["output"]


@pytest.mark.slow
def test_hidden_checks_report_neither_time_nor_kind_of_failure(tmp_path):
    folder = copy_of(EXERCISES, tmp_path / "slow")
    with open(folder / "activations.py", "a") as f:
        f.write("\n\nimport time\n\n\ndef relu(z):\n    time.sleep(0.3 if z.shape != (4, 5) else 0)\n"
                "    raise MemoryError\n\n\ndef sigmoid(z):\n    return z[0, 0]\n")
    _, results, _ = grade_json(folder, "--part", "activations", "--hidden", str(HIDDEN))
    hidden = [t for t in results["tests"] if t["name"].endswith("on hidden inputs")]
    assert {t["extra_data"]["seconds"] for t in hidden} == {0}
    assert {t["extra_data"]["status"] for t in hidden} == {"failed"}
    assert len({t["output"].split(" does not give")[1] for t in hidden}) == 1
    assert results["execution_time"] < 5


@pytest.mark.slow
def test_a_lookup_table_softmax_fails_the_stability_check(tmp_path):
    """Red team: softmax answering the public vector from a table and zeros elsewhere passed
    "stable at 1000" (zeros equal zeros). Stability is judged against the reference's answers on the
    stress inputs, once the answer on the value case is an attempt."""
    folder = lookup(copy_of(SOLUTIONS, tmp_path / "lookup"), "softmax", "softmax_ce")
    _, results, _ = grade_json(folder, "--part", "softmax_ce")
    by_name = {t["name"].split(": ", 1)[1]: t for t in results["tests"]}
    stable = [t for name, t in by_name.items() if name.startswith("softmax is finite and exact")][0]
    assert stable["status"] == "failed" and "differs from the reference's answer" in stable["output"]


WRONG = {  # every blank wrong, each returning what it promises (array, number, pair, dict)
    "activations": "def relu(z):\n    return 2 * np.maximum(z, 0) + 1\n\n\ndef relu_prime(z):\n    return (z > 0) * 2.0\n"
                   "\n\ndef sigmoid(z):\n    return 2 / (1 + np.exp(-z))\n\n\ndef sigmoid_prime(z):\n    return -z\n",
    "softmax_ce": "def softmax(z):\n    return z * 0 + 0.5\n\n\ndef cross_entropy(a, y):\n    return 1.5\n\n\n"
                  "def output_delta(a, y):\n    return a * 3\n",
    "backprop": "def hidden_delta(W_next, delta_next, z):\n    return z * 2\n\n\n"
                "def backward(params, cache, y):\n    return {k: v * 0 + 1 for k, v in params.items()}\n",
    "updates": "def layer_gradients(delta, a_prev):\n    return delta @ a_prev.T * 2, delta.sum(axis=1, keepdims=True) * 3\n"
               "\n\ndef sgd_update(params, grads, lr):\n    return {k: v * 2 for k, v in params.items()}\n",
}


@pytest.mark.slow
def test_every_hidden_check_fails_the_same_way_on_wrong_values(tmp_path):
    """No grader error, no detail: one message for each blank's wrong answer, whatever it returns."""
    folder = copy_of(SOLUTIONS, tmp_path / "wrong")
    for module, code in WRONG.items():
        with open(folder / f"{module}.py", "a") as f:
            f.write("\n\nimport numpy as np\n\n\n" + code)
    parts = [arg for part in WRONG for arg in ("--part", part)]
    _, results, _ = grade_json(folder, *parts, "--hidden", str(HIDDEN))
    hidden = [t for t in results["tests"] if t["name"].endswith("on hidden inputs")]
    assert len(hidden) == HIDDEN_CHECKS
    for test in hidden:
        blank = test["name"].split(": ")[1].split(" on hidden")[0]
        assert test["status"] == "failed" and test["extra_data"]["status"] == "failed", test
        assert test["output"] == (f"{blank} does not give the reference's answers on the hidden inputs (hidden "
                                  "checks show no details; its public checks show what is compared)")


ANSWER_KEY = '''
import json

import numpy as np

_TABLE = json.loads(TABLE_JSON)


def _plain(x):
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return np.asarray(x, dtype=np.float64)


def _same(a, b):
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return np.shape(a) == np.shape(b) and np.array_equal(a, b)


def _zeros(x):
    return {k: np.zeros(np.shape(v)) for k, v in x.items()} if isinstance(x, dict) else np.zeros(np.shape(x))


def _answer(fn, args, returns):
    """The public answer for these very inputs; zeros (of the right kind) for anything else."""
    args = [_plain(a) for a in args]
    for case_args, expected in _TABLE.get(fn, []):
        if len(case_args) == len(args) and all(_same(_plain(c), a) for c, a in zip(case_args, args)):
            if returns == "pair":
                return tuple(np.asarray(e) for e in expected)
            return _plain(expected) if returns != "scalar" else float(expected)
    if returns == "pair":
        return np.zeros((args[0].shape[0], args[1].shape[0])), np.zeros((args[0].shape[0], 1))
    return 0.0 if returns == "scalar" else _zeros(args[0])
'''


def answer_key(folder):
    """A submission that implements no blank and looks every answer up in the public vectors,
    which ship with every release (grader/vectors.json): the red team's 63/100 with --hidden."""
    table = {}
    for case in PUBLIC.values():
        table.setdefault(case["fn"], []).append((case["args"], case["expected"]))
    table["sigmoid"].append(([[[-1000.0, -750.0, 0.0, 750.0, 1000.0]]], [[0.0, 0.0, 0.5, 1.0, 1.0]]))  # its stability
    code = ANSWER_KEY.replace("TABLE_JSON", repr(json.dumps(table)))
    for blank in BLANKS.values():
        code += f"\n\ndef {blank.name}(*args):\n    return _answer({blank.name!r}, args, {blank.returns!r})\n"
    folder.mkdir(parents=True)
    (folder / "answer_key.py").write_text(code)
    for module in {b.module for b in BLANKS.values()}:
        (folder / f"{module}.py").write_text("from answer_key import *  # noqa: F401,F403\n")
    return folder


@pytest.mark.slow
def test_an_answer_key_of_the_public_vectors_earns_nothing_in_official_grading(tmp_path):
    """A public check's points count once its blank passes the hidden check too: the answer
    key keeps its public points in the students' own grade check (test the tester: it is a
    working answer key) and earns at most 5 of 100 with --hidden (issue 11 asks; it earns 0)."""
    folder = answer_key(tmp_path / "key")
    _, public, _ = grade_json(folder, "--report-dir", str(tmp_path / "r1"))
    assert public["score"] >= 60, public["score"]
    code, official, _ = grade_json(folder, "--hidden", str(HIDDEN), "--report-dir", str(tmp_path / "r2"))
    assert code == 1 and official["score"] <= 5, official["score"]
    withheld = [t for t in official["tests"] if "points are withheld" in t["output"]]
    assert withheld and all(t["visibility"] == "after_published" and t["score"] == 0 for t in withheld)
    assert all(t["status"] == "failed" for t in official["tests"] if t["name"].endswith("on hidden inputs"))


@pytest.mark.slow
def test_a_correct_blank_keeps_its_public_points_with_hidden_checks(tmp_path):
    """Withholding is per blank: one hard-coded blank loses its own checks' points, every
    other blank of its part keeps theirs."""
    folder = lookup(copy_of(SOLUTIONS, tmp_path / "lookup"), "relu", "activations")
    _, official, _ = grade_json(folder, "--part", "activations", "--hidden", str(HIDDEN))
    by_name = {t["name"].split(": ", 1)[1]: t for t in official["tests"]}
    assert by_name["relu matches the reference"]["score"] == 0
    assert "relu does not give the reference's answers on the hidden inputs" in \
        by_name["relu matches the reference"]["output"]
    for name in ("sigmoid matches the reference", "relu_prime matches the reference",
                 "sigmoid_prime agrees with central differences of sigmoid"):
        assert by_name[name]["status"] == "passed" and by_name[name]["score"] > 0, name
