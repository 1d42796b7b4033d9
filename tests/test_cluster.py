"""`grade batch --cluster`: the same classroom graded on a real Dask cluster (a `dask scheduler`
and two `dask worker` processes on 127.0.0.1) gives the same gradebook as `-j 2`, a crashing
and a hanging submission included, and the same per-student reports."""
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import EXERCISES, GRADE, ROOT, SOLUTIONS, copy_of, private_tmp

pytestmark = pytest.mark.slow  # a cluster's start (about 5 s) and two gradings of six submissions

DASK = str(Path(sys.executable).parent / "dask")


def gradebook(out):
    """The gradebook without its seconds column: the time a grading took is the one thing two runs
    of the same submissions may not share."""
    with open(out / "gradebook.csv") as f:
        return {row["student"]: {k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two single-threaded workers, as `dask` starts them, with their own TMPDIR
    (the grading's private copies go there); yields the scheduler's address."""
    root = tmp_path_factory.mktemp("dask")
    env = private_tmp(root / "tmp")
    file = root / "scheduler.json"
    scheduler = subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", str(file)], env=env, stdout=subprocess.DEVNULL,
                                 stderr=open(root / "scheduler.log", "w"))
    workers = []
    try:
        deadline = time.monotonic() + 60
        while not file.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert file.is_file(), (root / "scheduler.log").read_text()
        address = json.loads(file.read_text())["address"]
        for i in range(2):
            workers.append(subprocess.Popen([DASK, "worker", address, "--nthreads", "1", "--no-dashboard",
                                             "--name", f"w{i}", "--local-directory", str(root / f"w{i}")], env=env,
                                            stdout=subprocess.DEVNULL, stderr=open(root / f"worker{i}.log", "w")))
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for proc in [*workers, scheduler]:
            proc.terminate()
        for proc in [*workers, scheduler]:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    root = tmp_path_factory.mktemp("classroom")
    copy_of(SOLUTIONS, root / "ada")
    copy_of(EXERCISES, root / "stubs")
    wrong = copy_of(SOLUTIONS, root / "wrong")
    with open(wrong / "updates.py", "a") as f:
        f.write("\n\ndef sgd_update(params, grads, lr):\n    return {k: params[k] + lr * grads[k] for k in params}\n")
    crash = copy_of(SOLUTIONS, root / "crash")
    with open(crash / "softmax_ce.py", "a") as f:
        f.write("\nimport os\nos._exit(3)\n")
    hang = copy_of(SOLUTIONS, root / "hang")
    with open(hang / "activations.py", "a") as f:
        f.write("\nwhile True:\n    pass\n")
    (root / "empty").mkdir()
    return root


def batch(folder, out, *args):
    proc = subprocess.run([*GRADE, "batch", str(folder), "--out", str(out), "--timeout", "20",
                           "--hidden", str(ROOT / "hidden" / "backprop" / "vectors.json"), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=600, env=private_tmp(folder.parent / "tmp"))
    assert proc.returncode == 0, proc.stderr
    return proc


def test_a_cluster_grades_as_two_local_workers_do(cluster, classroom, tmp_path):
    local = batch(classroom, tmp_path / "local", "-j", "2")
    remote = batch(classroom, tmp_path / "remote", "--cluster", cluster)
    book = gradebook(tmp_path / "remote")
    assert book == gradebook(tmp_path / "local")
    assert float(book["ada"]["total"]) == 100 and float(book["stubs"]["total"]) == 0
    assert book["crash"]["status"] == "graded" and float(book["crash"]["softmax_ce"]) == 0  # its part's checks
    assert book["hang"]["status"] == "timeout" and "longer than 20 s" in book["hang"]["message"]
    assert book["empty"]["status"] == "error"
    assert f"6 submissions in" in remote.stdout and f"on {cluster}" in remote.stdout, remote.stdout
    assert "with -j 2" in local.stdout
    for student in ("ada", "wrong", "crash"):  # the same reports, written by the cluster's workers
        ours, theirs = (json.loads((tmp_path / side / "students" / student / "results.json").read_text())
                        for side in ("local", "remote"))
        assert [(t["name"], t["status"], t["score"]) for t in ours["tests"]] == \
            [(t["name"], t["status"], t["score"]) for t in theirs["tests"]], student


def test_a_second_cluster_run_skips_what_is_unchanged(cluster, classroom, tmp_path):
    out = tmp_path / "out"
    batch(classroom, out, "--cluster", cluster)
    again = batch(classroom, out, "--cluster", cluster)
    assert "unchanged since their last grading" in again.stdout, again.stdout


def test_no_scheduler_there_is_named(tmp_path, classroom):
    proc = subprocess.run([*GRADE, "batch", str(classroom), "--out", str(tmp_path / "out"), "--cluster",
                           "tcp://127.0.0.1:9"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "--cluster tcp://127.0.0.1:9: no Dask scheduler answers there" in proc.stderr


def test_a_course_without_isolation_is_refused(tmp_path, classroom):
    """A Dask scheduler runs what any client that reaches it sends: student code with the network
    (no bubblewrap) could send it anything, so --cluster refuses isolation: off at once."""
    import yaml
    from helpers import write_course

    tree = yaml.safe_load((ROOT / "course.yaml").read_text())
    tree["isolation"] = "off"
    course = write_course(tmp_path / "course.yaml", tree)
    proc = subprocess.run([*GRADE, "batch", str(classroom), "--out", str(tmp_path / "out"), "--course", str(course),
                           "--cluster", "tcp://127.0.0.1:9"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "--cluster needs isolation" in proc.stderr and "isolation: auto or required" in proc.stderr
    assert not (tmp_path / "out").exists()
