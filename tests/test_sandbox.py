"""The process boundary: Sandbox directly, and `grade check` on hostile or broken submissions.

Every submission here is a copy of solutions/ with one function redefined at the end of its
module (the later definition shadows the reference one), so exactly one thing is wrong.
"""
import functools
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from grader.child.limits import Limits
from grader.sandbox.process import GRACE, Sandbox as KitSandbox, StudentError

from helpers import EXERCISES, ROOT, SOLUTIONS, course_blanks, report_json, write_course
from helpers import GRADE as GRADE_COMMAND

Sandbox = functools.partial(KitSandbox, blanks=course_blanks())  # the kit's assignment's blanks

GRADE = GRADE_COMMAND[0]

# The activations part: check name (after "Activation functions: ") -> max score.
RELU_VALUES = "relu matches the reference"
RELU_PRIME_VALUES = "relu_prime matches the reference"
RELU_PRIME_GRADIENT = "relu_prime agrees with central differences of relu"
SIGMOID_CHECKS = ["sigmoid matches the reference", "sigmoid is finite and exact at |z| up to 1000",
                  "sigmoid_prime matches the reference", "sigmoid_prime agrees with central differences of sigmoid"]
UNCHANGED = "relu, relu_prime, sigmoid and sigmoid_prime do not modify their inputs"


# -- helpers --------------------------------------------------------------------------------------
def submission(tmp_path, source=SOLUTIONS, name="sub", **redefine):
    """A copy of source/*.py in tmp_path/name; redefine={module: code} appends code to module.py."""
    folder = tmp_path / name
    folder.mkdir()
    for path in source.glob("*.py"):
        shutil.copy(path, folder / path.name)
    for module, code in redefine.items():
        with open(folder / f"{module}.py", "a", encoding="utf-8") as f:
            f.write("\n\n" + textwrap.dedent(code).strip() + "\n")
    return folder


def grade(sub, *args, fmt="json", cwd=ROOT, timeout=120):
    """Run `grade check SUB --format FMT ARGS`; return the CompletedProcess (text)."""
    cmd = [str(GRADE), "check", str(sub), "--format", fmt, "--report-dir", str(sub.parent / "report"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=timeout)


def grade_json(sub, *args, **kwargs):
    proc = grade(sub, *args, **kwargs)
    assert "Traceback" not in proc.stderr, proc.stderr
    try:
        results = report_json(proc)
    except json.JSONDecodeError:
        pytest.fail(f"stdout is not JSON:\n{proc.stdout[:2000]}\nstderr:\n{proc.stderr[-2000:]}")
    return proc, results


def by_name(results, prefix="Activation functions: "):
    """name (without the part's title) -> test entry."""
    tests = {t["name"].removeprefix(prefix): t for t in results["tests"]}
    assert len(tests) == len(results["tests"]), "check names must be unique"
    return tests


def tiny_timeout_course(tmp_path, call=1):
    tree = yaml.safe_load((ROOT / "course.yaml").read_text())
    tree["limits"]["call_seconds"] = call
    return write_course(tmp_path / "course.yaml", tree)


Z = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0], [1.0, -1.0, 3.0, -3.0, 0.25]])  # 2 x 5: not square


# -- 1. plain calls ---------------------------------------------------------------------------------
def test_call_returns_float64_arrays_of_the_right_shape():
    with Sandbox(SOLUTIONS) as box:
        for fn in ("relu", "relu_prime", "sigmoid", "sigmoid_prime"):
            got = box.call(fn, Z)
            assert isinstance(got, np.ndarray) and got.dtype == np.float64 and got.shape == Z.shape, fn
        np.testing.assert_array_equal(box.call("relu", Z), np.maximum(Z, 0))
        np.testing.assert_allclose(box.call("sigmoid", Z), 1 / (1 + np.exp(-Z)), rtol=1e-12)
        a = box.call("softmax", Z)
        np.testing.assert_allclose(a.sum(axis=0), 1.0, rtol=1e-12)
        y = np.eye(2)[:, [0, 1, 0, 1, 0]]
        loss = box.call("cross_entropy", a, y)
        assert isinstance(loss, np.ndarray) and loss.shape == () and loss.dtype == np.float64
        dW, db = box.call("layer_gradients", np.ones((3, 4)), np.ones((2, 4)))
        assert dW.shape == (3, 2) and db.shape == (3, 1) and dW.dtype == db.dtype == np.float64
        # watch: the arguments in shared memory, read back by the grader after the call (unchanged here)
        result, after = box.call("relu", Z, watch=True)
        np.testing.assert_array_equal(after[0], Z)
        # map: one round trip, one result per argument tuple
        many = box.map("relu", [[Z], [-Z], [2 * Z]])
        assert len(many) == 3
        np.testing.assert_array_equal(many[1], np.maximum(-Z, 0))


def test_list_return_is_coerced_to_a_float64_array(tmp_path):
    sub = submission(tmp_path, activations="""
        def relu(z):
            return [[max(0, int(v)) for v in row] for row in z.tolist()]
    """)
    with Sandbox(sub) as box:
        got = box.call("relu", Z)
    assert isinstance(got, np.ndarray) and got.dtype == np.float64 and got.shape == Z.shape
    np.testing.assert_array_equal(got, np.maximum(Z.astype(int), 0))


# -- 2. exceptions ------------------------------------------------------------------------------
def test_exception_names_the_exception_and_the_students_line(tmp_path):
    sub = submission(tmp_path, activations="""
        def relu(z):
            raise ValueError("negative numbers confuse me")
    """)
    line = (sub / "activations.py").read_text().splitlines().index('    raise ValueError("negative numbers confuse me")') + 1
    with Sandbox(sub) as box, pytest.raises(StudentError) as info:
        box.call("relu", Z)
    err = info.value
    assert err.kind == "exception"
    assert "ValueError" in str(err) and "negative numbers confuse me" in str(err)
    assert err.where.startswith(f"activations.py:{line} ")
    assert "in relu" in err.where and "Traceback" not in str(err)


def test_not_implemented_blank():
    with Sandbox(EXERCISES) as box, pytest.raises(StudentError) as info:
        box.call("sigmoid", Z)
    assert info.value.kind == "not_implemented"
    assert str(info.value) == "sigmoid is not implemented yet"


# -- 3. exit, crash, hang: the child is replaced and the next call works --------------------------
HOSTILE = """
    def relu(z):
        import sys
        sys.exit(3)


    def relu_prime(z):
        import os
        os._exit(0)


    def sigmoid_prime(z):
        while True:
            pass
"""


@pytest.fixture
def hostile(tmp_path):
    with Sandbox(submission(tmp_path, activations=HOSTILE), Limits(call_seconds=1)) as box:
        yield box


def assert_recovers(box):
    np.testing.assert_allclose(box.call("sigmoid", np.zeros((2, 3))), 0.5)


def test_sys_exit_is_kind_exit(hostile):
    with pytest.raises(StudentError) as info:
        hostile.call("relu", Z)
    assert info.value.kind == "exit"
    assert "sys.exit(3)" in str(info.value)
    assert_recovers(hostile)


def test_os_exit_is_kind_crash_and_the_child_is_restarted(hostile):
    hostile.call("sigmoid", Z)
    first = hostile.proc.pid
    with pytest.raises(StudentError) as info:
        hostile.call("relu_prime", Z)
    assert info.value.kind == "crash"
    assert "exit code 0" in str(info.value)
    assert_recovers(hostile)
    assert hostile.proc.pid != first


@pytest.mark.slow
def test_endless_loop_times_out_and_the_child_is_restarted(hostile):
    hostile.call("sigmoid", Z)  # the child is up: time only the call
    first = hostile.proc.pid
    start = time.monotonic()
    with pytest.raises(StudentError) as info:
        hostile.call("sigmoid_prime", Z)
    elapsed = time.monotonic() - start
    assert info.value.kind == "timeout"
    assert "1 s" in str(info.value)
    assert 0.9 <= elapsed < 2.0
    assert hostile.proc is None  # killed, not left spinning
    with pytest.raises(ProcessLookupError):
        os.kill(first, 0)
    assert_recovers(hostile)


@pytest.mark.slow
def test_a_blank_that_ran_out_of_time_is_not_called_again(hostile):
    """One endless loop costs one call's limit, not one per check; other blanks still run."""
    with pytest.raises(StudentError):
        hostile.call("sigmoid_prime", Z)
    start = time.monotonic()
    with pytest.raises(StudentError) as info:
        hostile.map("sigmoid_prime", [[Z], [Z]])
    assert time.monotonic() - start < 0.1 and info.value.kind == "timeout"
    assert "sigmoid_prime was not called again" in str(info.value)
    assert hostile.call("sigmoid", Z).shape == Z.shape


@pytest.mark.slow
def test_errors_in_a_row_do_not_poison_the_sandbox(hostile):
    for fn, kind in [("relu", "exit"), ("relu_prime", "crash"), ("sigmoid_prime", "timeout"), ("relu", "exit")]:
        with pytest.raises(StudentError) as info:
            hostile.call(fn, Z)
        assert info.value.kind == kind, fn
        assert_recovers(hostile)


LOOPING_RELU_PRIME = """
    def relu_prime(z):
        while True:  # and it swallows whatever is raised to stop it
            try:
                pass
            except BaseException:
                pass
"""


@pytest.mark.slow
def test_the_watchdog_stops_a_call_at_the_limit_and_says_which_blank_it_was_in(tmp_path):
    """hidden_delta calls relu_prime, which never returns: the call stops at the limit, and the
    message says it was in relu_prime. What the grader timed, hidden_delta, is not called again;
    relu_prime is marked by its own call, after which a blank that calls it fails at once. The
    child's account of where it was never marks a blank (a blame it could shift: red team)."""
    W, delta, z = np.ones((3, 2)), np.ones((3, 4)), np.ones((2, 4))
    with Sandbox(submission(tmp_path, activations=LOOPING_RELU_PRIME), Limits(call_seconds=1)) as box:
        box.call("sigmoid", Z)  # the child is up: time only the call
        start = time.monotonic()
        with pytest.raises(StudentError) as info:
            box.call("hidden_delta", W, delta, z)
        assert 0.9 <= time.monotonic() - start < 2.0
        assert info.value.kind == "timeout"
        assert info.value.args[0] == (
            "hidden_delta did not finish within 1 s (an endless loop?), and was stopped; it was in relu_prime, "
            "called by hidden_delta"
        )
        assert info.value.where.startswith("activations.py:") and "in relu_prime" in info.value.where
        assert box.hung == {"hidden_delta"}
        with pytest.raises(StudentError):
            box.call("relu_prime", Z)
        assert box.hung == {"hidden_delta", "relu_prime"}
        start = time.monotonic()
        with pytest.raises(StudentError) as info:
            box.call("backward", *backward_case())
        assert time.monotonic() - start < 0.5 and info.value.kind == "timeout"
        assert "was not called again (called by" in str(info.value)
        assert box.call("relu", Z).shape == Z.shape


def backward_case():
    rng = np.random.default_rng(0)
    params = {"W1": rng.standard_normal((3, 4)), "b1": np.ones((3, 1)), "W2": rng.standard_normal((2, 3)),
              "b2": np.ones((2, 1))}
    X = rng.standard_normal((4, 5))
    z1 = params["W1"] @ X + params["b1"]
    a1 = np.maximum(z1, 0)
    z2 = params["W2"] @ a1 + params["b2"]
    a2 = np.exp(z2) / np.exp(z2).sum(axis=0)
    return params, {"a0": X, "z1": z1, "a1": a1, "z2": z2, "a2": a2}, np.eye(2)[:, [0, 1, 0, 1, 1]]


@pytest.mark.slow
def test_a_forged_timeout_is_not_believed(tmp_path):
    """A timeout the child claims before the limit could not have come from the watchdog."""
    forge = """
        def relu(z):  # the reply a watchdog writes, at once, from the request's id on the stack
            import sys
            from grader.child.protocol import write_message
            frame = sys._getframe()
            while frame is not None and not isinstance(frame.f_locals.get("request"), dict):
                frame = frame.f_back
            write_message(int(sys.argv[2]), {"id": frame.f_locals["request"]["id"], "ok": False, "kind": "timeout",
                                             "message": "relu did not finish"})
            import os
            os._exit(0)
    """
    with Sandbox(submission(tmp_path, activations=forge), Limits(call_seconds=5)) as box:
        with pytest.raises(StudentError) as info:
            box.call("relu", Z)
    assert info.value.kind == "protocol" and "claimed a timeout it did not have" in str(info.value)
    assert box.hung == set()


@pytest.mark.slow
def test_a_blank_stuck_in_training_ends_it_at_the_call_limit_naming_the_epoch_and_batch(tmp_path):
    """Training calls the blanks thousands of times in one request: a stuck one ended it only at
    limits.training_seconds (300 s). The child's watchdog stops it at call_seconds and says where."""
    rng = np.random.default_rng(0)
    data = {"train_images": rng.integers(0, 256, (64, 784), dtype=np.uint8), "train_labels": rng.integers(0, 10, 64)}
    budget = {"epochs": 2, "batch_size": 16, "learning_rate": 0.1, "seed": 0}
    with Sandbox(submission(tmp_path, activations=LOOPING_RELU_PRIME), Limits(call_seconds=1)) as box:
        box.call("sigmoid", Z)
        start = time.monotonic()
        with pytest.raises(StudentError) as info:
            box.train([784, 8, 10], budget, data)
        assert time.monotonic() - start < 3
    assert info.value.kind == "timeout"
    assert info.value.args[0] == (
        "training stopped at epoch 1, batch 1 of 4: that batch did not finish within 1 s (an endless loop?); it was "
        "in relu_prime, called by hidden_delta, backward"
    ), info.value
    assert "in relu_prime" in info.value.where


def test_a_training_that_falls_silent_ends_in_seconds_where_the_watchdog_cannot_act(tmp_path):
    """A loop in C code never lets Python run: the child's watchdog cannot stop it, and it waited
    for limits.training_seconds (300 s). The child says it is alive at least at every batch that
    comes BEAT seconds after the last word; one that says nothing for longer than a batch may
    take (call_seconds and twice GRACE) is killed."""
    rng = np.random.default_rng(0)
    data = {"train_images": rng.integers(0, 256, (64, 784), dtype=np.uint8), "train_labels": rng.integers(0, 10, 64)}
    budget = {"epochs": 2, "batch_size": 16, "learning_rate": 0.1, "seed": 0}
    stuck = submission(tmp_path, activations="def relu(z):\n    return sum(range(10**13))")
    with Sandbox(stuck, Limits(call_seconds=1, training_seconds=120)) as box:
        start = time.monotonic()
        with pytest.raises(StudentError) as info:
            box.train([784, 8, 10], budget, data)
        waited = time.monotonic() - start
    assert 1 + 2 * GRACE <= waited < 1 + 2 * GRACE + 3, waited
    assert info.value.kind == "timeout"
    assert info.value.args[0] == (
        "training stopped answering (its last word: epoch 1, batch 1): nothing came from it for 5 s, where each "
        "batch ends within 1 s or its watchdog stops it and says so; code that never lets Python run (a loop in C) "
        "stops both. It was killed"
    ), info.value


def test_training_data_goes_through_shared_memory_or_the_pipe_when_it_does_not_fit(tmp_path):
    """The images are placed in the arena (one write, no 18 MB through the pipe); data larger
    than the arena goes through the pipe as before. Both train to the same weights."""
    from grader.sandbox.process import Arena

    rng = np.random.default_rng(0)
    data = {"train_images": rng.integers(0, 256, (64, 784), dtype=np.uint8), "train_labels": rng.integers(0, 10, 64)}
    budget = {"epochs": 1, "batch_size": 16, "learning_rate": 0.1, "seed": 0}
    trained, ways = [], []
    for size in (None, 4096):  # 4 KiB: the 50 KB of images do not fit
        with Sandbox(SOLUTIONS) as box:
            if size:
                box.arena.close()
                box.arena = Arena(size)
            real_place = box.arena.place

            def place(args, real_place=real_place):
                try:
                    placed = real_place(args)
                except ValueError:
                    ways.append("pipe")
                    raise
                ways.append("shared")
                return placed

            box.arena.place = place
            params, _, _ = box.train([784, 8, 10], budget, data)
            trained.append(params)
    assert ways == ["shared", "pipe"]
    assert all(np.array_equal(trained[0][k], trained[1][k]) for k in trained[0])


@pytest.mark.slow
def test_the_graders_own_time_is_never_the_childs_silence(tmp_path):
    """The grader scoring an epoch (or a loaded machine) between two reads is not the child falling
    silent: the frames waiting in the pipe count (red team: a 5.5 s pause killed a healthy run,
    "nothing came from it for 5 s"). A silence before the first batch says so."""
    rng = np.random.default_rng(0)
    data = {"train_images": rng.integers(0, 256, (64, 784), dtype=np.uint8), "train_labels": rng.integers(0, 10, 64)}
    budget = {"epochs": 3, "batch_size": 16, "learning_rate": 0.1, "seed": 0}
    with Sandbox(SOLUTIONS, Limits(call_seconds=1, training_seconds=120)) as box:
        params, _, seconds = box.train([784, 8, 10], budget, data, lambda epoch, params: time.sleep(5.5 * (epoch == 1)))
    assert seconds > 5.5 and set(params) == {"W1", "b1", "W2", "b2"}
    stuck = submission(tmp_path, activations="sum(range(10**13))")  # at the top of the file: its import
    with Sandbox(stuck, Limits(call_seconds=1, training_seconds=120)) as box, pytest.raises(StudentError) as info:
        box.train([784, 8, 10], budget, data)
    assert info.value.args[0].startswith(
        "training stopped answering before its first batch (importing its files, or making the images floats): "
        "nothing came from it for 5 s"
    ), info.value


def test_a_slow_training_that_keeps_talking_is_not_silent(tmp_path):
    """Test the tester: 8 batches of 0.8 s each, each within call_seconds (1 s), 6.4 s in all:
    longer than the silence allowed (1 s + 2 GRACE = 5 s), which its signs of life keep off."""
    rng = np.random.default_rng(0)
    data = {"train_images": rng.integers(0, 256, (64, 784), dtype=np.uint8), "train_labels": rng.integers(0, 10, 64)}
    budget = {"epochs": 2, "batch_size": 16, "learning_rate": 0.1, "seed": 0}
    slow = submission(tmp_path, activations="""
        def relu(z):
            import time
            time.sleep(0.8)
            return np.maximum(z, 0)
    """)
    with Sandbox(slow, Limits(call_seconds=1, training_seconds=120)) as box:
        params, _, seconds = box.train([784, 8, 10], budget, data)
    assert seconds > 6.4 and set(params) == {"W1", "b1", "W2", "b2"}


# -- 4. one broken blank costs only its own checks -----------------------------------------------
@pytest.mark.slow
def test_os_exit_in_relu_fails_only_relus_checks(tmp_path):
    sub = submission(tmp_path, activations="""
        def relu(z):
            import os
            os._exit(0)
    """)
    proc, results = grade_json(sub, "--part", "activations")
    assert proc.returncode == 1
    tests = by_name(results)
    for name in (RELU_VALUES, UNCHANGED):
        assert tests[name]["status"] == "failed" and tests[name]["score"] == 0, name
        assert "exit code 0" in tests[name]["output"] and tests[name]["output"].startswith("ERROR"), tests[name]
    for name in SIGMOID_CHECKS + [RELU_PRIME_VALUES, RELU_PRIME_GRADIENT]:
        assert tests[name]["status"] == "passed" and tests[name]["score"] == tests[name]["max_score"] > 0, name
    assert results["score"] == 12  # 15 - relu values (2) - unchanged (1); relu_prime is held against the reference


@pytest.mark.slow
def test_endless_loop_in_relu_fails_only_relus_checks(tmp_path):
    sub = submission(tmp_path, activations="""
        def relu(z):
            while True:
                pass
    """)
    start = time.monotonic()
    proc, results = grade_json(sub, "--part", "activations", "--course", str(tiny_timeout_course(tmp_path)),
                               timeout=60)
    assert time.monotonic() - start < 15
    assert proc.returncode == 1
    tests = by_name(results)
    for name in (RELU_VALUES, UNCHANGED):
        assert tests[name]["status"] == "failed" and tests[name]["score"] == 0, name
    assert "did not finish within 1 s" in tests[RELU_VALUES]["output"], tests[RELU_VALUES]
    assert "relu was not called again: an earlier call ran out of time" in tests[UNCHANGED]["output"]
    for name in SIGMOID_CHECKS + [RELU_PRIME_VALUES, RELU_PRIME_GRADIENT]:
        assert tests[name]["status"] == "passed" and tests[name]["score"] == tests[name]["max_score"] > 0, name
    assert results["score"] == 12


@pytest.mark.slow
def test_a_stuck_blank_costs_its_own_checks_and_mnist_in_seconds(tmp_path):
    """The whole assignment with relu_prime stuck (issue 15): relu_prime's checks and MNIST
    fail, naming it; every other blank keeps its points, backward's own-helpers check too (its
    glue is right), and the verdict comes after about one call limit, not training's 300 s."""
    sub = submission(tmp_path, activations=LOOPING_RELU_PRIME)
    start = time.monotonic()
    proc, results = grade_json(sub, "--course", str(tiny_timeout_course(tmp_path, call=2)), "--no-plots", timeout=120)
    assert time.monotonic() - start < 30  # the training limit is 300 s: anything near it is the old behaviour
    failed = {t["name"]: t["output"] for t in results["tests"] if t["status"] != "passed"}
    assert set(failed) == {
        f"Activation functions: {RELU_PRIME_VALUES}",
        f"Activation functions: {RELU_PRIME_GRADIENT}",
        f"Activation functions: {UNCHANGED}",
        "MNIST accuracy: training with your blanks reaches the course's test accuracy",
    }, failed
    mnist = failed["MNIST accuracy: training with your blanks reaches the course's test accuracy"]
    assert "training stopped at epoch 1, batch 1 of 730: that batch did not finish within 2 s (an endless loop?); " \
        "it was in relu_prime, called by hidden_delta, backward" in mnist


# -- 5. tampering with numpy and pytest in the child changes nothing in the parent ----------------
@pytest.mark.slow
def test_patching_numpy_and_pytest_does_not_rescue_a_wrong_relu(tmp_path):
    sub = submission(tmp_path, activations="""
        np.allclose = lambda *a, **k: True
        np.isclose = lambda a, b, *r, **k: np.ones(np.broadcast(a, b).shape, bool)
        np.testing.assert_allclose = lambda *a, **k: None
        np.array_equal = lambda *a, **k: True
        try:
            import pytest
            pytest.fail = lambda *a, **k: None
            pytest.raises = lambda *a, **k: None
        except Exception:
            pass
        import builtins
        builtins.AssertionError = type("AssertionError", (Exception,), {})


        def relu(z):
            return z  # wrong: negatives pass through


        def relu_prime(z):
            result = (z > 0).astype(z.dtype)
            z += 1.0  # right values, but it modifies its input
            return result
    """)
    proc, results = grade_json(sub, "--part", "activations")
    assert proc.returncode == 1
    tests = by_name(results)
    assert tests[RELU_VALUES]["status"] == "failed" and tests[RELU_VALUES]["score"] == 0
    assert "relative error" in tests[RELU_VALUES]["output"]
    assert tests[RELU_PRIME_GRADIENT]["status"] == "passed"  # relu_prime is right; it no longer leans on relu
    assert tests[UNCHANGED]["status"] == "failed" and "relu_prime modified its input" in tests[UNCHANGED]["output"]
    # the tampered module still grades its correct functions as correct
    for name in SIGMOID_CHECKS + [RELU_PRIME_VALUES, RELU_PRIME_GRADIENT]:
        assert tests[name]["status"] == "passed", name
    assert results["score"] == 12


# -- 6. a submission's conftest.py and tests are never loaded ------------------------------------
CHEAT_CONFTEST = """
import pathlib

import pytest

pathlib.Path(__file__).with_name("conftest-was-loaded").write_text("yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None
"""

CHEAT_TEST = """
import pathlib

pathlib.Path(__file__).with_name("test_cheat-was-imported").write_text("yes")


def test_cheat():
    assert False, "this fails, but the conftest reports it passed"
"""


@pytest.fixture
def cheating(tmp_path):
    sub = submission(tmp_path, source=EXERCISES)
    (sub / "conftest.py").write_text(CHEAT_CONFTEST)
    (sub / "test_cheat.py").write_text(CHEAT_TEST)
    return sub


def test_the_cheating_conftest_really_works_under_plain_pytest(cheating, tmp_path):
    """The attack is live: plain pytest on the folder loads it and reports a failing test as passed."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(cheating)],
                          capture_output=True, text=True, cwd=cheating, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
    assert (cheating / "conftest-was-loaded").exists()
    (cheating / "conftest-was-loaded").unlink()
    (cheating / "test_cheat-was-imported").unlink()


@pytest.mark.parametrize("from_inside", [False, True], ids=["cwd-kit", "cwd-submission"])
@pytest.mark.slow
def test_submission_conftest_and_tests_are_ignored(cheating, tmp_path, from_inside):
    args = ["--part", "activations", "--part", "updates", "--course", str(ROOT / "course.yaml")]
    proc, results = grade_json(cheating, *args, cwd=cheating if from_inside else ROOT)
    assert proc.returncode == 1
    assert results["score"] == 0
    assert all(t["status"] == "failed" and t["score"] == 0 for t in results["tests"])
    assert len(results["tests"]) == 13  # 8 activations + 5 updates checks, nothing else
    assert not any("cheat" in t["name"].lower() for t in results["tests"])
    assert "cheat" not in proc.stdout.lower()
    assert not (cheating / "conftest-was-loaded").exists()
    assert not (cheating / "test_cheat-was-imported").exists()


# -- 7. student output never reaches the JSON ------------------------------------------------------
@pytest.mark.slow
def test_printing_from_student_code_does_not_corrupt_json(tmp_path):
    sub = submission(tmp_path, activations="""
        import sys as _sys
        print("{ not json, printed at import")


        def relu(z):
            for i in range(10_000):
                print(f"line {i}: {{\\"score\\": 100}}")
            print("to stderr too", file=_sys.stderr)
            return np.maximum(z, 0)
    """)
    proc, results = grade_json(sub, "--part", "activations")
    assert proc.returncode == 0
    assert proc.stdout.lstrip().startswith("{") and "line 9999" not in proc.stdout
    assert "to stderr too" not in proc.stderr
    tests = by_name(results)
    assert tests[RELU_VALUES]["status"] == "passed" and tests[RELU_VALUES]["score"] == 2
    assert results["score"] == 15
    # ... but it is kept for the student, in the report folder, in order, stdout and stderr together
    printed = (sub.parent / "report" / "output.txt").read_text()
    assert printed.startswith("{ not json, printed at import\n") and "line 9999" in printed
    assert "to stderr too" in printed  # relu runs ~10 times, 220 KB each: the limit of 256 KiB cuts the rest
    assert len(printed.encode()) < 256 * 1024 + 100 and "more bytes not kept]" in printed
    assert any("relu printed more than the 256 KiB of output allowed" in t["output"] for t in results["tests"])
    assert "output.txt" in results["output"]


# -- 8. wrong type, wrong shape --------------------------------------------------------------------
@pytest.mark.slow
def test_wrong_return_type_is_described(tmp_path):
    sub = submission(tmp_path, activations="""
        def relu(z):
            return "hello"
    """)
    with Sandbox(sub) as box, pytest.raises(StudentError) as info:
        box.call("relu", Z)
    assert info.value.kind == "bad_return"
    proc, results = grade_json(sub, "--part", "activations")
    assert proc.returncode == 1
    check = by_name(results)[RELU_VALUES]
    assert check["status"] == "failed" and check["score"] == 0
    assert "relu returned" in check["output"] and "str" in check["output"], check["output"]
    assert "not an array of numbers" in check["output"]


@pytest.mark.slow
def test_wrong_return_shape_names_both_shapes(tmp_path):
    sub = submission(tmp_path, activations="""
        def relu(z):
            return np.maximum(z, 0).T
    """)
    proc, results = grade_json(sub, "--part", "activations")
    assert proc.returncode == 1
    check = by_name(results)[RELU_VALUES]
    assert check["status"] == "failed" and check["score"] == 0
    assert "has shape (5, 4); expected (4, 5)" in check["output"], check["output"]  # the vectors' z is 4 x 5
    assert "transpose" in check["output"]
    assert by_name(results)[RELU_PRIME_VALUES]["status"] == "passed"


# -- 9. a SyntaxError costs its own module's checks only -------------------------------------------
@pytest.mark.slow
def test_syntax_error_at_import(tmp_path):
    sub = submission(tmp_path)
    path = sub / "activations.py"
    lines = path.read_text().splitlines()
    bad_line = lines.index("    return np.maximum(z, 0)") + 1
    lines[bad_line - 1] = "    return np.maximum(z, 0"  # an unclosed parenthesis
    path.write_text("\n".join(lines) + "\n")
    proc, results = grade_json(sub, "--part", "activations", "--part", "updates")
    assert proc.returncode == 1
    activations = [t for t in results["tests"] if t["extra_data"]["part"] == "activations"]
    updates = [t for t in results["tests"] if t["extra_data"]["part"] == "updates"]
    assert len(activations) == 8 and len(updates) == 5
    for t in activations:
        assert t["status"] == "failed" and t["score"] == 0, t["name"]
        assert "SyntaxError" in t["output"] and "activations.py" in t["output"], t["output"]
        assert f"line {bad_line}" in t["output"], t["output"]
    assert all(t["status"] == "passed" and t["score"] == t["max_score"] for t in updates)
    assert results["score"] == 15


# -- regressions found in review ----------------------------------------------------------------------
@pytest.mark.slow
def test_child_that_closes_its_pipe_but_lives_fails_fast(tmp_path):
    """A child that hangs up and sleeps must not stall the grader (it once waited 5 s a call)."""
    sub = submission(tmp_path, activations="""
        def relu(z):
            import os, sys, time
            os.close(int(sys.argv[2])); time.sleep(30)
        """)
    start = time.monotonic()
    proc, results = grade_json(sub, "--part", "activations")
    assert time.monotonic() - start < 15
    tests = by_name(results)
    assert tests[RELU_VALUES]["status"] == "failed"
    assert "connection to the grader" in tests[RELU_VALUES]["output"]
    for name in SIGMOID_CHECKS:
        assert tests[name]["status"] == "passed", tests[name]


@pytest.mark.slow
def test_student_text_is_not_parsed_as_markup(tmp_path):
    sub = submission(tmp_path, activations="""
        def sigmoid(z):
            raise ValueError("[/] closing tag z[i] [bold]x")
        """)
    proc = grade(sub, "--part", "activations", fmt="text")
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "[/] closing tag z[i] [bold]x" in proc.stdout


@pytest.mark.slow
def test_python_dash_m_runs_the_cli():
    proc = subprocess.run([sys.executable, "-m", "grader.cli", "check", str(EXERCISES), "--format", "json",
                           "--part", "updates"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 1
    assert report_json(proc)["score"] == 0


def test_call_timeout_does_not_count_the_childs_start_up():
    """The worker reports ready before the clock starts: even a 0.2 s budget fits a quick call."""
    with Sandbox(SOLUTIONS, Limits(call_seconds=0.2)) as box:
        assert box.call("relu", Z).shape == Z.shape


# -- limits and isolation modes ------------------------------------------------------------------------
def test_without_isolation_the_limits_still_hold_and_the_report_says_so(tmp_path):
    sub = submission(tmp_path, activations="""
        def relu(z):
            return np.ones((40_000, 40_000))  # 12.8 GB


        def relu_prime(z):
            with open("big", "wb") as f:  # in the child's private working folder
                f.write(b"x" * (2 << 20))
    """)
    with Sandbox(sub, Limits(memory_mb=1024, disk_mb=1), isolation_mode="off") as box:
        np.testing.assert_array_equal(box.call("sigmoid", np.zeros((1, 2))), 0.5)
        with pytest.raises(StudentError) as info:
            box.call("relu", Z)
        assert info.value.kind == "memory" and info.value.is_error
        assert "memory limit of 1024 MiB exceeded in relu" in str(info.value)
        assert box.describe()[0].startswith("isolation: none (turned off in course.yaml)")
        with pytest.raises(StudentError) as info:
            box.call("relu_prime", Z)
        assert "File too large" in str(info.value)


def test_a_late_second_reply_is_never_blamed_on_the_next_call(tmp_path):
    """relu answers, then has a thread answer the same request again 0.3 s later, while sigmoid
    is running: that is relu's leftover, not sigmoid's doing. The child is replaced and sigmoid
    runs again in the fresh one (one run in eight used to blame sigmoid with an ERROR)."""
    sub = submission(tmp_path, activations="""
        def relu(z):
            import sys, threading, time
            from grader.child.protocol import write_message
            frame = sys._getframe()
            while not isinstance(frame.f_locals.get("request"), dict):
                frame = frame.f_back
            rid = frame.f_locals["request"]["id"]
            def late():
                time.sleep(0.3)
                write_message(int(sys.argv[2]), {"id": rid, "ok": True, "result": 0.0})
            threading.Thread(target=late, daemon=True).start()
            return np.maximum(z, 0)

        def sigmoid(z):
            import time
            time.sleep(0.6)
            return 1 / (1 + np.exp(-z))
    """)
    with Sandbox(sub) as box:
        np.testing.assert_array_equal(box.call("relu", Z), np.maximum(Z, 0))
        np.testing.assert_allclose(box.call("sigmoid", Z), 1 / (1 + np.exp(-Z)))  # no StudentError
        assert "sent replies nobody asked for; it was replaced" in " ".join(box.take_events())


def test_the_sandboxed_child_sees_only_its_own_folder_of_the_grader(tmp_path):
    """bubblewrap binds grader/child/ by folder (with the package's __init__.py):
    the checks, the test vectors and the rest of the grader are not there to read."""
    import grader

    sub = submission(tmp_path, activations=f"""
        def relu(z):
            import os
            seen = sorted(os.listdir({str(Path(grader.__file__).parent)!r}))
            raise ValueError("sees " + ",".join(name for name in seen if name != "__pycache__"))
    """)
    with Sandbox(sub, Limits(), "required") as box, pytest.raises(StudentError) as info:
        box.call("relu", Z)
    assert "sees __init__.py,child" in str(info.value) and "provided" not in str(info.value), str(info.value)
    # test the tester: without isolation the same code sees the whole package
    with Sandbox(sub, Limits(), "off") as box, pytest.raises(StudentError) as info:
        box.call("relu", Z)
    assert "config.py" in str(info.value) and "grading" in str(info.value)


def test_isolation_required_refuses_to_grade_without_bubblewrap(tmp_path):
    tree = yaml.safe_load((ROOT / "course.yaml").read_text())
    tree["isolation"] = "required"
    course = write_course(tmp_path / "course.yaml", tree)
    env = {**os.environ, "PATH": str(tmp_path)}  # no bwrap on this PATH
    proc = subprocess.run([GRADE, "check", str(SOLUTIONS), "--course", str(course), "--part", "updates"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert proc.returncode == 3  # the grader cannot grade as configured: not the student's failure
    assert "isolation = required, but bubblewrap is not installed" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_child_sees_no_grader_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    monkeypatch.setenv("GRADE_DATA_DIR", "/somewhere/secret")
    sub = submission(tmp_path, activations="""
        def relu(z):
            import os
            leaked = [k for k in os.environ if "TOKEN" in k or k.startswith(("GITHUB", "GRADE"))]
            if leaked:
                raise RuntimeError(f"leaked {leaked}")
            return np.maximum(z, 0)
    """)
    for mode in ("auto", "off"):
        with Sandbox(sub, isolation_mode=mode) as box:
            np.testing.assert_array_equal(box.call("relu", Z), np.maximum(Z, 0))


@pytest.mark.slow
def test_cpu_limit_kills_a_spinning_child_and_says_so(tmp_path):
    sub = submission(tmp_path, activations="""
        def relu(z):
            while True:
                pass
    """)
    with Sandbox(sub, Limits(call_seconds=20, cpu_seconds=1)) as box:
        start = time.monotonic()
        with pytest.raises(StudentError) as info:
            box.call("relu", Z)
        assert time.monotonic() - start < 5  # the CPU limit, not the 20 s wall limit
        assert info.value.is_error and "CPU time limit of 1 s" in str(info.value), str(info.value)


@pytest.mark.slow
def test_check_budget_spans_all_of_a_checks_calls(tmp_path):
    sub = submission(tmp_path, activations="""
        def relu(z):
            import time
            time.sleep(0.4)
            return np.maximum(z, 0)
    """)
    with Sandbox(sub, Limits(call_seconds=5, check_seconds=1)) as box:
        box.call("sigmoid", Z)  # started
        box.deadline = time.monotonic() + box.limits.check_seconds
        box.call("relu", Z)
        box.call("relu", Z)  # 0.8 s so far: each call is well within its own 5 s
        with pytest.raises(StudentError) as info:
            box.call("relu", Z)
        assert info.value.kind == "timeout"
        assert "this check's calls took more than 1 s in total" in str(info.value)
