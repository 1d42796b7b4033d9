"""One bound on a whole submission (bounds.py), measured from outside while `grade` runs: the
processes and memory of everything it forks together, its CPU share beside another student,
nothing left running afterwards, and no time charged for waiting on someone else's checks.

A sampler thread reads /proc every few milliseconds for the processes of the submission (as
root, student code runs as a uid drawn from bounds' range) and keeps the peaks. Each bound is
also shown to be the thing that holds: with a looser limit, the same code goes past it.
"""
import csv
import json
import os
import subprocess
import threading
import time

import pytest
import yaml
from helpers import GRADE, ROOT, SOLUTIONS, copy_of

from grader import bounds

pytestmark = pytest.mark.skipif(not bounds.is_root(), reason="root grades here (CI, Gradescope, Docker)")


class Sampler:
    """Peaks of the submission's processes (count, and their resident memory summed) while
    a command runs, read from /proc: the machine's view, not the grader's."""

    def __init__(self):
        self.count = self.rss = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def students(self):
        found = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                status = open(f"/proc/{name}/status").read()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            uid = int(fields.get("Uid", "-1").split()[0])
            if bounds.UID_BASE <= uid < bounds.UID_BASE + bounds.UID_SPAN and "Z" not in fields.get("State", ""):
                found[int(name)] = int(fields.get("VmRSS", "0 kB").split()[0]) << 10
        return found

    def run(self):
        while not self.stop.is_set():
            found = self.students()
            self.count, self.rss = max(self.count, len(found)), max(self.rss, sum(found.values()))
            time.sleep(0.003)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def course_file(tmp_path, isolation="auto", **limits):
    tree = yaml.safe_load((ROOT / "course.yaml").read_text())
    tree["limits"].update(limits)
    tree["training"]["reference"] = str(SOLUTIONS)
    tree["isolation"] = isolation
    path = tmp_path / f"course-{isolation}-{'-'.join(f'{k}{v}' for k, v in limits.items())}.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def submission(tmp_path, name, module, code):
    folder = copy_of(SOLUTIONS, tmp_path / name)
    with open(folder / f"{module}.py", "a") as f:
        f.write("\n\n" + code)
    return folder


def check(folder, course, *args, timeout=300):
    out = folder.parent / f"{folder.name}-results.json"
    proc = subprocess.run([*GRADE, "check", str(folder), "--course", str(course), "--format", "json", "--output",
                           str(out), "--report-dir", str(folder.parent / f"{folder.name}-report"), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(out.read_text())


FORKER = '''
import os
import time


def relu(z):  # right, but it forks sleepers as fast as it can first
    for _ in range(5000):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(60)
            os._exit(0)
    return np.maximum(z, 0)
'''


@pytest.mark.parametrize("isolation", ["auto", "off"])
def test_a_forking_submission_never_holds_more_than_its_processes(tmp_path, isolation):
    """Correct code that forks as fast as it can: as root, where RLIMIT_NPROC used to exempt it
    (1,600 sleepers in one grade check), the submission's processes never pass limits.processes
    together; its relu keeps its points, and nothing of it outlives the grading."""
    folder = submission(tmp_path, "forker", "activations", FORKER)
    with Sampler() as sampled:
        results = check(folder, course_file(tmp_path, isolation, processes=16), "--part", "activations")
    assert 8 <= sampled.count <= 16, sampled.count  # it did fork, and no further than the bound
    assert results["score"] == 15, [t["output"] for t in results["tests"] if t["status"] != "passed"]
    assert "one cgroup" in results["output"] and "a user of its own" in results["output"]
    assert Sampler().students() == {}, "processes of the submission outlived grade check"
    # test the tester: with a looser bound the same code goes well past 16
    with Sampler() as looser:
        check(folder, course_file(tmp_path, isolation, processes=48), "--part", "activations")
    assert looser.count > 32, looser.count


HOARDER = '''
import os
import time

_HELD = []


def relu(z):  # right, but first three children each hold 1.5 GiB (one process may have 2 GiB)
    if not _HELD:
        for _ in range(3):
            pid = os.fork()
            if pid == 0:
                block = np.ones(1536 << 17)
                time.sleep(60)
                os._exit(0)
            _HELD.append(pid)
        time.sleep(5)
    return np.maximum(z, 0)
'''


def test_a_submissions_memory_is_bounded_in_total(tmp_path):
    """Three forks of 1.5 GiB each held 4.4 GiB with memory_mb: 2048. Now the cgroup holds all
    of the submission's memory to 2048 MiB together; the grader reports and goes on."""
    folder = submission(tmp_path, "hoarder", "activations", HOARDER)
    with Sampler() as sampled:
        results = check(folder, course_file(tmp_path, memory_mb=2048), "--part", "activations")
    assert 1 << 30 < sampled.rss <= 2048 << 20, sampled.rss >> 20
    assert len(results["tests"]) == 8 and "2048 MiB of memory in total" in results["output"]
    # test the tester: with room for all three, the sampler sees them all
    with Sampler() as roomy:
        check(folder, course_file(tmp_path, memory_mb=8192), "--part", "activations")
    assert roomy.rss > 4 << 30, roomy.rss >> 20


HOG = '''
import os

_HOGS = []


def sgd_update(params, grads, lr):  # the training child starts two dozen busy loops, each its own session
    if not _HOGS:
        for _ in range(24):
            pid = os.fork()
            if pid == 0:
                os.setsid()
                while True:
                    pass
            _HOGS.append(pid)
    return {k: params[k] - lr * grads[k] for k in params}
'''


def batch(folder, course, out, *args, timeout=600):
    proc = subprocess.run([*GRADE, "batch", str(folder), "--course", str(course), "--out", str(out), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    with open(out / "gradebook.csv") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def test_a_hog_does_not_starve_the_student_graded_beside_it(tmp_path):
    """Two dozen setsid() busy loops in one student's training child starved a co-graded
    correct submission into an MNIST timeout. Each submission now has an equal CPU share
    however many processes it runs: the neighbour trains within a 12 s budget (1.3 s alone,
    about 20 s against 25 busy processes with no share; see README), and the hog's loops are
    gone afterwards."""
    room = tmp_path / "in"
    submission(room, "hog", "updates", HOG)
    copy_of(SOLUTIONS, room / "neighbour")
    course = course_file(tmp_path, training_seconds=12)
    book = batch(room, course, tmp_path / "out", "-j", "2", "--timeout", "120")
    assert book["neighbour"]["status"] == "graded" and float(book["neighbour"]["total"]) == 100, book["neighbour"]
    assert float(book["hog"]["mnist"]) == 0  # its own training ran out of its own time
    assert Sampler().students() == {}


SLOW_HIDDEN = '''
import time


def sigmoid_prime(z):  # right, and slow on any input its public checks do not use: the hidden ones
    if np.shape(z) not in {(4, 5), (5, 7), (4, 6)}:
        time.sleep(5)
    s = sigmoid(z)
    return s * (1 - s)
'''


def test_waiting_for_a_neighbours_hidden_checks_is_nobodys_time(tmp_path):
    """Hidden checks run while no other student's code does, so with -j 2 one student waits
    for the other's. That wait used to count against the waiting student's --timeout. Here each
    grading takes about 8 s of its own, the timeout is 12 s, and one of the two waits about
    5 s for the other: both are graded, each charged its own time only."""
    room = tmp_path / "in"
    for name in ("first", "second"):
        submission(room, name, "activations", SLOW_HIDDEN)
    start = time.monotonic()
    book = batch(room, course_file(tmp_path), tmp_path / "out", "-j", "2", "--timeout", "12", "--hidden",
                 str(ROOT / "hidden" / "vectors.json"))
    wall = time.monotonic() - start
    for name in ("first", "second"):
        assert book[name]["status"] == "graded" and float(book[name]["total"]) == 100, book[name]
        assert float(book[name]["seconds"]) < 12
    # test the tester: the two hidden sessions did run one after the other, so one did wait
    assert wall > max(float(book[n]["seconds"]) for n in book) + 3
