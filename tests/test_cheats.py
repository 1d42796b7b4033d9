"""The cheat suite: hostile submissions in tests/cheats/, each a copy of the stubs or of a
wrong answer plus one trick. For every one: the score equals that of the same submission
without the trick (or zero), `grade check` exits normally with a complete report that names
what happened, two runs give identical reports, and no process of the submission survives.

Each file's docstring says what it joins: `base` (stubs = exercises/; wrong = the reference
with relu returning z; untrained = the reference with backward returning zero gradients;
zero_derivatives = the reference with every derivative blank returning zeros),
`joins` (the module its code is appended to), `parts` (graded with --part) and `expect`
(text the report must contain).
"""
import base64
import json
import os
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import EXERCISES, GRADE, ROOT, SOLUTIONS, copy_of, private_tmp, student_processes, write_course

from grader.sandbox import isolation

CHEATS = sorted((Path(__file__).parent / "cheats").glob("*.py"))
BASES = {
    "stubs": (EXERCISES, {}),
    "wrong": (SOLUTIONS, {"activations": "def relu(z):\n    return z  # wrong: negatives pass through\n"}),
    "untrained": (SOLUTIONS, {"backprop": "import numpy as np\n\n\ndef backward(params, cache, y):\n"
                                          "    return {k: np.zeros_like(v) for k, v in params.items()}\n"}),
    "zero_derivatives": (SOLUTIONS, {
        "activations": "def relu_prime(z):\n    return np.zeros(np.shape(z))\n\n\nsigmoid_prime = relu_prime\n",
        "softmax_ce": "def output_delta(a, y):\n    return np.zeros(np.shape(a))\n",
        "backprop": "import numpy as np\n\n\ndef hidden_delta(W_next, delta_next, z):\n    return np.zeros(np.shape(z))\n"
                    "\n\ndef backward(params, cache, y):\n    return {k: np.zeros(np.shape(v)) for k, v in params.items()}\n"}),
}


def header(path):
    """The key: value lines of a cheat's docstring."""
    doc = path.read_text().split('"""')[1]
    fields = dict(line.split(": ", 1) for line in doc.splitlines() if ": " in line and line.split(":")[0].isalpha())
    assert {"base", "joins", "parts", "expect"} <= set(fields), f"{path.name}: header incomplete: {fields}"
    return fields


def build(folder, base, joins=None, code=""):
    source, changes = BASES[base]
    copy_of(source, folder)
    for module, extra in [*changes.items(), *([(joins, code)] if joins else [])]:
        with open(folder / f"{module}.py", "a", encoding="utf-8") as f:
            f.write("\n\n" + extra)
    return folder


@pytest.fixture(scope="session")
def course(tmp_path_factory):
    """The kit's course with short call limits (the suite waits on each endless loop)."""
    tree = yaml.safe_load((ROOT / "course.yaml").read_text())
    tree["limits"].update(call_seconds=2, check_seconds=20)
    tree["training"]["reference"] = str(SOLUTIONS.parent)
    path = write_course(tmp_path_factory.mktemp("course") / "course.yaml", tree)
    return path


def grade(sub, parts, course, output):
    args = [*GRADE, "check", str(sub), "--format", "json", "--output", str(output), "--course", str(course),
            "--report-dir", str(output.parent.parent / "report")]  # one folder for both runs
    for part in parts.split(","):
        args += ["--part", part.strip()]
    proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env=private_tmp(output.parent.parent / "tmp"))
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1), f"grade exited {proc.returncode}: {proc.stderr[-2000:]}"
    return proc, json.loads(output.read_text())


def without_timings(results):
    results = json.loads(json.dumps(results))
    results.pop("execution_time")
    results["output"] = "\n".join(line for line in results["output"].splitlines() if "trained in" not in line)
    for test in results["tests"]:
        test["extra_data"].pop("seconds")
    return results


@pytest.fixture(scope="session")
def base_scores(course, tmp_path_factory):
    """Score of each base on each part set, without any trick (computed once)."""
    cache = {}

    def score(base, parts):
        if (base, parts) not in cache:
            folder = tmp_path_factory.mktemp(f"base-{base}")
            sub = build(folder / "sub", base)
            cache[base, parts] = grade(sub, parts, course, folder / "results.json")[1]["score"]
        return cache[base, parts]

    return score


@pytest.fixture(scope="session")
def weights_from_elsewhere(tmp_path_factory):
    """A correct network's weights, trained with another seed: what a cheater might save."""
    from grader import config
    from grader.data import mnist
    from grader.grading import scoring

    course = config.load(ROOT / "course.yaml", "backprop")
    other = type(course)(**{**course.__dict__, "seed": course.seed + 1})
    params, _, _, _ = scoring.train(SOLUTIONS, other, lambda: mnist.load_mnist(os.environ[mnist.ENV_VAR]))
    path = tmp_path_factory.mktemp("weights") / "weights.npz"
    np.savez(path, **params)
    return path


@pytest.fixture
def listener():
    """A TCP server on 127.0.0.1 that records every connection it accepts."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            accepted.append(conn.recv(100))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()


def test_the_suite_runs_isolated():
    """In CI the cheat suite must run with bubblewrap (.ci/run installs it)."""
    path, problem = isolation.available()
    assert path, f"isolation unavailable: {problem}"


@pytest.mark.slow
def test_every_base_is_what_the_suite_says(base_scores):
    """The bases themselves: stubs score 0, the wrong relu loses its checks but keeps the rest."""
    assert base_scores("stubs", "activations") == 0
    assert 0 < base_scores("wrong", "activations") < 15
    assert base_scores("untrained", "mnist") == 0


@pytest.mark.parametrize("path", CHEATS, ids=[p.stem for p in CHEATS])
@pytest.mark.slow
def test_no_trick_earns_a_point(path, course, base_scores, tmp_path, request):
    fields = header(path)
    code = path.read_text()
    accepted = None
    if "PORT" in code:
        port, accepted = request.getfixturevalue("listener")
        code = code.replace("PORT", str(port))
    sub = build(tmp_path / "sub", fields["base"], fields["joins"], code)
    if "weights_data" in code:
        saved = base64.b64encode(request.getfixturevalue("weights_from_elsewhere").read_bytes())
        (sub / "weights_data.py").write_text(f"NPZ = {saved!r}\n")
    before = {p.name: p.read_bytes() for p in sub.iterdir()}

    reports = []
    for run in range(2):
        output = tmp_path / f"run{run}" / "results.json"
        output.parent.mkdir()
        proc, results = grade(sub, fields["parts"], course, output)
        assert proc.returncode == 1, "a hostile submission must not pass"
        reports.append(results)
        deadline = time.monotonic() + 5
        while student_processes(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not student_processes(tmp_path), f"processes of the submission outlived grade check: " \
                                                f"{student_processes(tmp_path)}"

    first, second = reports
    # The score: never above the same submission without the trick.
    base = base_scores(fields["base"], fields["parts"])
    assert first["score"] <= base, f"scored {first['score']}; without the trick {base}"
    # A complete report, written by the grader (not the fake one the submission tried to plant).
    expected_checks = {"activations": 8, "softmax_ce": 7, "backprop": 6, "updates": 5, "mnist": 1}
    assert len(first["tests"]) == sum(expected_checks[p.strip()] for p in fields["parts"].split(","))
    assert all(t["score"] <= t["max_score"] for t in first["tests"])
    # It names what happened.
    everything = first["output"] + "\n" + "\n".join(t["output"] for t in first["tests"])
    assert fields["expect"] in everything, everything
    # Nothing the submission printed or raised can pose as a CI command or a terminal escape.
    for line in everything.splitlines():
        assert not line.lstrip().startswith("::") and "##[" not in line and "\x1b" not in line, line
    # Identical twice, timings aside.
    assert without_timings(first) == without_timings(second)
    # The submission folder is as it was (the child sees it read-only), with no planted results.
    assert {p.name: p.read_bytes() for p in sub.iterdir() if p.name != "__pycache__"} == \
        {k: v for k, v in before.items() if k != "__pycache__"}
    if accepted is not None:
        assert accepted == [], f"the submission reached 127.0.0.1: {accepted}"


@pytest.mark.slow
def test_text_report_echoes_no_workflow_command(course, tmp_path):
    """What a CI log shows (the text report on stdout and stderr): no line a runner would obey."""
    cheat = CHEATS[[p.stem for p in CHEATS].index("fake_scores_and_workflow_commands")]
    fields = header(cheat)
    sub = build(tmp_path / "sub", fields["base"], fields["joins"], cheat.read_text())
    start = time.monotonic()
    proc = subprocess.run([*GRADE, "check", str(sub), "--part", "activations", "--course", str(course),
                           "--report-dir", str(tmp_path / "report")], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert time.monotonic() - start < 30, "rendering student text must take linear time"
    assert proc.returncode == 1
    assert "relu raised ValueError: all good" in proc.stdout  # the message is shown ...
    assert "::notice title=grade::100/100" in proc.stdout      # ... with its text intact ...
    for line in (proc.stdout + proc.stderr).splitlines():      # ... but never as a command
        assert not line.lstrip().startswith("::") and "##[" not in line and "\x1b[2J" not in line, line[:200]
    assert "Score: 100/100" not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_a_correct_solution_written_differently_passes_the_weight_check(course, tmp_path):
    """The control for saved_weights: other correct formulas (float64 softmax, a/m - y/m,
    einsum) drift from the reference by float rounding only, and keep the MNIST points."""
    sub = copy_of(SOLUTIONS, tmp_path / "sub")
    extra = {
        "softmax_ce": "def softmax(z):\n    z64 = np.asarray(z, dtype=np.float64)\n    e = np.exp(z64 - z64.max(axis=0))\n"
                      "    return (e / e.sum(axis=0)).astype(np.asarray(z).dtype)\n\n\n"
                      "def output_delta(a, y):\n    m = a.shape[1]\n    return a / m - y / m\n",
        "updates": "import numpy as np\n\n\ndef layer_gradients(delta, a_prev):\n"
                   "    return np.einsum('im,jm->ij', delta, a_prev), np.einsum('im->i', delta)[:, None]\n",
    }
    for module, code in extra.items():
        with open(sub / f"{module}.py", "a", encoding="utf-8") as f:
            f.write("\n\n" + code)
    (tmp_path / "out").mkdir()
    _, results = grade(sub, "mnist", course, tmp_path / "out" / "results.json")
    output = results["tests"][0]["output"]
    assert results["score"] == 25, output
    assert re.search(r"test accuracy 0\.9[6-9]", output), output
    distance = float(re.search(r"from the reference's: ([\d.e+-]+)", output).group(1))
    assert 0 < distance < 0.25, output


@pytest.mark.slow
def test_github_format_carries_student_text_inside_its_own_annotations(course, tmp_path):
    """--format github prints commands on purpose; student text must stay in their data."""
    cheat = CHEATS[[p.stem for p in CHEATS].index("fake_scores_and_workflow_commands")]
    fields = header(cheat)
    sub = build(tmp_path / "sub", fields["base"], fields["joins"], cheat.read_text())
    proc = subprocess.run([*GRADE, "check", str(sub), "--part", "activations", "--course", str(course), "--format",
                           "github", "--report-dir", str(tmp_path / "report")], capture_output=True, text=True,
                          cwd=ROOT, timeout=300, env={k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"})
    assert proc.returncode == 1
    commands = [line for line in (proc.stdout + proc.stderr).splitlines() if line.lstrip().startswith("::")]
    assert len(commands) == 8  # the stubs fail all 8 activation checks: one annotation each, nothing more
    assert all(line.startswith("::error file=") and "##[" not in line for line in commands)
    assert any("::notice title=grade::100/100" in line for line in commands)  # quoted inside, as data
