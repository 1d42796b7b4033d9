"""One bound on a whole submission (bounds.py), measured from outside while `grade` runs: the
processes and memory of everything it forks together, its CPU share beside another student,
nothing left running afterwards, and no time charged for waiting on someone else's checks.

A sampler thread reads /proc every few milliseconds for the processes of the submission (as
root, student code runs as a uid drawn from bounds' range, and its command line names the
test's own private copy) and keeps the peaks. Each bound is also shown to be the thing that
holds: with a looser limit, the same code goes past it.
"""
import csv
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml
from helpers import GRADE, ROOT, SOLUTIONS, copy_of, private_tmp, student_processes, write_course

from grader.sandbox import bounds

pytestmark = pytest.mark.skipif(not bounds.is_root(), reason="root grades here (CI, Gradescope, Docker)")


class Sampler:
    """Peaks of the submission's processes (count, and their memory summed) while a command
    runs, read from /proc: the machine's view, not the grader's."""

    def __init__(self, under, memory=True):
        self.needle = os.fsencode(str(under))  # the test's own grading (see helpers.private_tmp)
        self.memory = memory  # reading each process's memory makes a sample slower
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
                if self.needle not in open(f"/proc/{name}/cmdline", "rb").read():
                    continue
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            uid = int(fields.get("Uid", "-1").split()[0])
            if bounds.UID_BASE <= uid < bounds.UID_BASE + bounds.UID_SPAN and "Z" not in fields.get("State", ""):
                found[int(name)] = self.pss(name) if self.memory else 0
        return found

    @staticmethod
    def pss(pid):
        """The memory a process made itself (anonymous and tmpfs pages), proportionally: pages
        shared after a fork count once in the sum, and the libraries it maps, loaded and paid
        for by the grader before it, not at all."""
        total = 0
        try:
            for line in open(f"/proc/{pid}/smaps_rollup"):
                if line.startswith(("Pss_Anon:", "Pss_Shmem:")):
                    total += int(line.split()[1]) << 10
        except OSError:
            pass
        return total

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
    tree["training"]["reference"] = str(SOLUTIONS.parent)
    tree["isolation"] = isolation
    path = tmp_path / f"course-{isolation}-{'-'.join(f'{k}{v}' for k, v in limits.items())}.yaml"
    write_course(path, tree)
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
                          capture_output=True, text=True, cwd=ROOT, timeout=timeout,
                          env=private_tmp(folder.parent / "tmp"))
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
    time.sleep(0.5)  # long enough for the sampler to count them all
    return np.maximum(z, 0)
'''


@pytest.mark.parametrize("isolation", ["auto", "off"])
@pytest.mark.slow
def test_a_forking_submission_never_holds_more_than_its_processes(tmp_path, isolation):
    """Correct code that forks as fast as it can: as root, where RLIMIT_NPROC used to exempt it
    (1,600 sleepers in one grade check), the submission's processes never pass limits.processes
    together; its relu keeps its points, and nothing of it outlives the grading."""
    folder = submission(tmp_path, "forker", "activations", FORKER)
    with Sampler(tmp_path, memory=False) as sampled:
        results = check(folder, course_file(tmp_path, isolation, processes=16), "--part", "activations")
    assert 8 <= sampled.count <= 16, sampled.count  # it did fork, and no further than the bound
    assert results["score"] == 15, [t["output"] for t in results["tests"] if t["status"] != "passed"]
    assert "one cgroup" in results["output"] and "a user of its own" in results["output"]
    assert student_processes(tmp_path) == [], "processes of the submission outlived grade check"
    # test the tester: with a looser bound the same code goes well past 16
    with Sampler(tmp_path, memory=False) as looser:
        check(folder, course_file(tmp_path, isolation, processes=48), "--part", "activations")
    assert looser.count > 40, looser.count


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


@pytest.mark.slow
def test_a_submissions_memory_is_bounded_in_total(tmp_path):
    """Three forks of 1.5 GiB each held 4.4 GiB with memory_mb: 2048. Now the cgroup holds all
    of the submission's memory to 2048 MiB together; the grader reports and goes on."""
    folder = submission(tmp_path, "hoarder", "activations", HOARDER)
    with Sampler(tmp_path) as sampled:
        results = check(folder, course_file(tmp_path, memory_mb=2048), "--part", "activations")
    assert 1 << 30 < sampled.rss <= 2048 << 20, sampled.rss >> 20
    assert len(results["tests"]) == 8 and "2048 MiB of memory in total" in results["output"]
    # test the tester: with room for all three, the sampler sees far more than the bound. Not
    # "all 4.5 GiB": CI once sampled 4027 MiB (a fork still faulting its pages in), so the
    # margin is 1 GiB above the bound, which a bounded run can never show.
    with Sampler(tmp_path) as roomy:
        check(folder, course_file(tmp_path, memory_mb=8192), "--part", "activations")
    assert roomy.rss > 3 << 30, roomy.rss >> 20


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
                          capture_output=True, text=True, cwd=ROOT, timeout=timeout, env=private_tmp(folder.parent / "tmp"))
    assert proc.returncode == 0, proc.stderr
    with open(out / "gradebook.csv") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


@pytest.mark.slow
def test_a_hog_does_not_starve_the_student_graded_beside_it(tmp_path):
    """Two dozen setsid() busy loops in one student's training child starved a co-graded
    correct submission into an MNIST timeout. Each submission now has an equal CPU share
    however many processes it runs: the neighbour trains within a 12 s budget (1.3 s alone,
    about 20 s against 25 busy processes with no share; see docs/security.md), and the hog's loops are
    gone afterwards."""
    room = tmp_path / "in"
    submission(room, "hog", "updates", HOG)
    copy_of(SOLUTIONS, room / "neighbour")
    course = course_file(tmp_path, training_seconds=12)
    book = batch(room, course, tmp_path / "out", "-j", "2", "--timeout", "120")
    assert book["neighbour"]["status"] == "graded" and float(book["neighbour"]["total"]) == 100, book["neighbour"]
    assert float(book["hog"]["mnist"]) == 0  # its own training ran out of its own time
    assert student_processes(tmp_path) == []


SLOW_HIDDEN = '''
import time


def sigmoid_prime(z):  # right, and slow on any input its public checks do not use: the hidden ones
    if np.shape(z) not in {(4, 5), (5, 7), (4, 6)}:
        time.sleep(9)
    s = sigmoid(z)
    return s * (1 - s)
'''


@pytest.mark.slow
def test_waiting_for_a_neighbours_hidden_checks_is_nobodys_time(tmp_path):
    """Hidden checks run while no other student's code does, so with -j 2 one student waits
    for the other's. That wait used to count against the waiting student's --timeout. Here each
    grading takes about 12 s of its own (9 s of it a hidden call), the timeout is 16 s, and one
    of the two waits about 9 s for the other, 21 s in all: both are graded, each charged its
    own time only."""
    room = tmp_path / "in"
    for name in ("first", "second"):
        submission(room, name, "activations", SLOW_HIDDEN)
    copy_of(SOLUTIONS, room / "third")  # starts when the first is done, and waits for the second's hidden checks
    start = time.monotonic()
    book = batch(room, course_file(tmp_path, call_seconds=20), tmp_path / "out", "-j", "2", "--timeout", "16",
                 "--hidden", str(ROOT / "hidden" / "backprop" / "vectors.json"))
    wall = time.monotonic() - start
    for name in ("first", "second", "third"):
        assert book[name]["status"] == "graded" and float(book[name]["total"]) == 100, book[name]
        # the time a report shows is the student's own: a neighbour's hidden session, a few bits of it
        # once, is not in it (red team)
        assert 0 < float(book[name]["seconds"]) < 8, book[name]  # (a wait once counted twice made it -56.6 s)
    # test the tester: the two 9 s hidden calls ran one after the other, so one student did wait
    assert wall > 18, wall


DAEMON = '''
import json
import os
import time


def relu(z):  # wrong; and it leaves a daemon that keeps writing a perfect score over results.json
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            for _ in range(150):
                try:
                    for pid in os.listdir("/proc"):
                        args = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\\\0")
                        if b"--output" in args:
                            with open(args[args.index(b"--output") + 1], "w") as f:
                                json.dump({"score": 100, "execution_time": 0, "output": "", "tests": []}, f)
                except Exception:
                    pass
                time.sleep(0.1)
        os._exit(0)
    return z
'''


@pytest.mark.parametrize("isolation", ["auto", "off"])
@pytest.mark.slow
def test_a_daemon_that_leaves_its_session_dies_before_the_report_is_written(tmp_path, isolation):
    """Without isolation a forked daemon that escaped with setsid() rewrote results.json to 100
    after grade check exited. Every process of the submission is now killed before any report
    is written (and as its own uid it could not write the grader's files anyway)."""
    folder = submission(tmp_path, "daemon", "activations", DAEMON)
    results = check(folder, course_file(tmp_path, isolation), "--part", "activations")
    assert results["score"] < 15 and results["tests"]
    time.sleep(2)  # the daemon's next writes would land now
    again = json.loads((folder.parent / "daemon-results.json").read_text())
    assert again == results
    assert student_processes(tmp_path) == []
    if isolation == "off":  # in bubblewrap it died with the child's PID namespace: nothing was left to stop
        assert "process(es) running after its checks; they were stopped" in results["output"]


@pytest.mark.slow
def test_close_finds_a_setsid_escapee_with_neither_cgroup_nor_uid(tmp_path):
    """What an ordinary user without isolation has left: this process is the subreaper of its
    descendants, so a double-forked setsid() daemon re-parents to it, and close() finds and
    kills it (run in a process of its own: a subreaper adopts every orphan below it)."""
    daemon = tmp_path / "daemon.py"
    daemon.write_text("import os, time\n"
                      "if os.fork() == 0:\n"
                      "    os.setsid()\n"
                      "    if os.fork() == 0:\n"
                      "        time.sleep(60)\n"
                      "    os._exit(0)\n")
    script = tmp_path / "escape.py"
    script.write_text(f"""
import subprocess, sys, time
sys.path.insert(0, {str(ROOT)!r})
from grader.sandbox import bounds
from grader.child.limits import Limits

bounds.Cgroup.make = classmethod(lambda cls, *args: (None, "none in this test"))
bounds.is_root = lambda: False
bound = bounds.Bound(Limits())
assert bound.cgroup is None and bound.uid is None
subprocess.run([sys.executable, {str(daemon)!r}])
time.sleep(0.3)
left = bound.leftovers()
print("found", len(left))
bound.close()
alive = [pid for pid in left if bounds._stat(pid) and bounds._stat(pid)[2] not in "ZX"]
print("alive", len(alive), "killed", bound.killed)
""")
    proc = subprocess.run([os.sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "found 1" in proc.stdout and "alive 0" in proc.stdout and "killed 1" in proc.stdout, proc.stdout


POISON = '''
import glob

import numpy as np


def relu(z):  # plants zeros for the reference's cached weights (it has read the grader's source)
    for path in glob.glob("CACHE/*.npz"):
        try:
            np.savez(open(path, "wb"), W1=np.zeros((128, 784)), b1=np.zeros((128, 1)), W2=np.zeros((10, 128)),
                     b2=np.zeros((10, 1)))
        except Exception:
            pass
    return np.maximum(z, 0)
'''


@pytest.mark.slow
def test_one_student_cannot_take_mnist_from_the_students_after(tmp_path):
    """Without isolation one student who overwrote .grade-cache/ took MNIST's 25 points from
    every later student. Here the cache folder is even left writable to anyone (so the attack
    does land): the grader then neither reads nor writes it, batch workers use the reference
    trained once in memory, and the students graded after keep their points."""
    import numpy as np

    course = course_file(tmp_path, "off")
    check(copy_of(SOLUTIONS, tmp_path / "warm"), course, "--part", "mnist")  # caches the reference's weights
    (cached,) = (tmp_path / ".grade-cache").glob("*.npz")
    os.chmod(tmp_path / ".grade-cache", 0o777)
    os.chmod(cached, 0o666)
    room = tmp_path / "in"
    submission(room, "a-poisoner", "activations", POISON.replace("CACHE", str(tmp_path / ".grade-cache")))
    for name in ("b", "c"):
        copy_of(SOLUTIONS, room / name)
    book = batch(room, course, tmp_path / "out", "-j", "1")
    with np.load(cached) as weights:
        assert np.abs(weights["W1"]).sum() == 0  # test the tester: the poison is in the cache
    for name in ("b", "c"):
        assert float(book[name]["mnist"]) == 25, book[name]
    assert check(copy_of(SOLUTIONS, tmp_path / "later"), course, "--part", "mnist")["score"] == 25
    os.chmod(tmp_path / ".grade-cache", 0o755)  # writable by anyone, it would outlive the test for later graders


# -- cgroup v2, where this machine has v1: the decisions, on a folder laid out like cgroupfs --------
@pytest.fixture
def fake_v2(tmp_path, monkeypatch):
    """A cgroup2 mount at tmp_path/cg holding this process in /job; writes to its control files
    are plain file writes (the kernel's effect of each is what the v1 tests above measure)."""
    root = tmp_path / "cg"
    job = root / "job"
    job.mkdir(parents=True)
    (job / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (job / "cgroup.subtree_control").write_text("\n")
    (job / "cgroup.procs").write_text(f"{os.getpid()}\n")
    monkeypatch.setattr(bounds, "_mounts", lambda: [(root, "/", "cgroup2", {"rw"})])
    monkeypatch.setattr(bounds, "_own_paths", lambda: {"": "/job"})
    return job


def busy_once(monkeypatch):
    """The kernel's answer to enabling controllers in a cgroup that holds processes: EBUSY."""
    import errno

    real, refused = bounds._write, []

    def write(path, value):
        if path.name == "cgroup.subtree_control" and not refused:
            refused.append(path)
            raise OSError(errno.EBUSY, "Device or resource busy", str(path))
        real(path, value)

    monkeypatch.setattr(bounds, "_write", write)
    return refused


def test_v2_delegated_controllers_give_a_group_with_the_limits(fake_v2):
    (fake_v2 / "cgroup.subtree_control").write_text("cpu memory pids\n")
    group, why = bounds.Cgroup.make(70, 2048 << 20, "grade-1-x")
    assert why is None and group.version == "v2" and set(group.dirs) == {"pids", "memory", "cpu"}
    folder = fake_v2 / "grade-1-x"
    assert group.folders == [folder]
    assert (folder / "pids.max").read_text() == "70\n" and (folder / "memory.max").read_text() == f"{2048 << 20}\n"
    assert (folder / "cpu.weight").read_text() == "100\n"
    assert group.procs_files() == [str(folder / "cgroup.procs")]


def test_v2_alone_in_its_cgroup_the_grader_moves_into_a_leaf_first(fake_v2, monkeypatch):
    refused = busy_once(monkeypatch)
    group, why = bounds.Cgroup.make(70, 1 << 30, "grade-1-y")
    assert why is None and refused == [fake_v2 / "cgroup.subtree_control"]
    assert (fake_v2 / "grade-grader" / "cgroup.procs").read_text() == f"{os.getpid()}\n"
    assert set((fake_v2 / "cgroup.subtree_control").read_text().split()) == {"+cpu", "+memory", "+pids"}
    assert group.folders == [fake_v2 / "grade-1-y"]


def test_v2_with_other_processes_in_its_cgroup_it_says_why_not(fake_v2, monkeypatch):
    (fake_v2 / "cgroup.procs").write_text(f"1\n{os.getpid()}\n")
    busy_once(monkeypatch)
    group, why = bounds.Cgroup.make(70, 1 << 30, "grade-1-z")
    assert group is None and "holds other processes too" in why and "Delegate=yes" in why
    assert not (fake_v2 / "grade-1-z").exists()


def test_v2_without_the_controllers_it_says_so(fake_v2):
    (fake_v2 / "cgroup.controllers").write_text("cpuset io\n")
    group, why = bounds.Cgroup.make(70, 1 << 30, "grade-1-w")
    assert group is None and "offers no pids and memory controllers" in why


LOCKER = '''
import fcntl
import os
import time


_STARTED = []


def relu(z):  # right; first a daemon locks every file it can open among the batch's reports, for a minute
    if not _STARTED and os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            held = []
            for pid in os.listdir("/proc"):
                try:
                    args = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\\\0")
                    out = args[args.index(b"--out") + 1].decode()
                except Exception:
                    continue
                for folder, _, files in os.walk(out):
                    for name in files:
                        try:
                            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
                            fcntl.flock(fd, fcntl.LOCK_SH)
                            fcntl.lockf(fd, fcntl.LOCK_SH)
                        except OSError:
                            pass
                        held.append(fd)
            time.sleep(60)
        os._exit(0)
    _STARTED.append(1)
    return np.maximum(z, 0)
'''


@pytest.mark.slow
def test_a_daemon_cannot_hold_the_hidden_checks_lock(tmp_path):
    """Without isolation a student's daemon opened the batch's lock file (the child may read what
    the grader can) and held it: no worker could run hidden checks again, and the supervisor,
    which stops a waiting worker's clock, waited forever. The lock now has no name, and the
    daemon dies with its grading."""
    room = tmp_path / "in"
    submission(room, "mallory", "activations", LOCKER)
    copy_of(SOLUTIONS, room / "alice")
    start = time.monotonic()
    book = batch(room, course_file(tmp_path, "off"), tmp_path / "out", "-j", "2", "--timeout", "60", "--hidden",
                 str(ROOT / "hidden" / "backprop" / "vectors.json"), timeout=300)
    assert time.monotonic() - start < 60
    assert float(book["alice"]["total"]) == 100 and float(book["mallory"]["total"]) == 100, book
    assert student_processes(tmp_path) == []


LITTER = '''
import os


_CALLS = []


def relu(z):  # right only where it could leave files in the shared folders, one 1,500 folders deep
    made, _CALLS[:] = 0, [*_CALLS, 1]
    for folder in ("/dev/shm", "/var/tmp", "/tmp"):
        try:
            top = os.path.join(folder, f"litter-{os.getpid()}-{len(_CALLS)}")
            os.mkdir(top)
            fd = os.open(top, os.O_RDONLY)
            for _ in range(1500):
                os.mkdir("d", dir_fd=fd)
                fd, parent = os.open("d", os.O_RDONLY, dir_fd=fd), fd
                os.close(parent)
            with open(os.open("bottom.bin", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd), "wb") as f:
                f.write(b"x" * (8 << 20))
            made += 1
        except OSError:
            pass
    return np.maximum(z, 0) if made == 3 else z
'''


@pytest.mark.slow
def test_files_left_in_shared_places_are_removed(tmp_path):
    """Without isolation a child left 600 MB in /dev/shm (memory) and more in /var/tmp, and
    nothing removed them; a tree 1,500 folders deep made the clean-up raise in the grader. What
    the submission's uid owns there goes with its grading, however deep. Its relu is right only
    if it did leave them (test the tester)."""
    def students_files():
        found = set()
        for shared in ("/dev/shm", "/var/tmp", "/tmp"):
            for entry in os.scandir(shared):
                uid = entry.stat(follow_symlinks=False).st_uid
                if bounds.UID_BASE <= uid < bounds.UID_BASE + bounds.UID_SPAN:
                    found.add(entry.path)
        return found

    before = students_files()  # another grader's, at work on this machine
    folder = submission(tmp_path, "litter", "activations", LITTER)
    results = check(folder, course_file(tmp_path, "off"), "--part", "activations")
    relu = [t for t in results["tests"] if t["name"].endswith("relu matches the reference")][0]
    assert relu["status"] == "passed", relu["output"]  # it did leave them
    assert results["score"] == 15
    assert students_files() - before == set()


OUTLIVING = '''
import ctypes
import errno

_LIBC = ctypes.CDLL(None, use_errno=True)


def _refused(result):
    return result == -1 and ctypes.get_errno() == errno.EPERM


def relu(z):  # right only if every kernel object that would outlive it is refused
    refused = [
        _refused(_LIBC.syscall(248, b"user", b"hidden", b"inputs", 6, -4)),  # add_key, x86_64
        _refused(_LIBC.syscall(250, 0, -4, 0, 0, 0)),  # keyctl
        _refused(_LIBC.shmget(0, 4096, 0o1600)),
        _refused(_LIBC.msgget(0, 0o1600)),
        _refused(_LIBC.semget(0, 1, 0o1600)),
        _refused(_LIBC.syscall(240, b"q", 0o100 | 2, 0o600, None)),  # mq_open(O_CREAT | O_RDWR)
        # the page cache of files every child reads, probed without timing anything
        _refused(_LIBC.syscall(27, 0, 4096, None)),  # mincore
        _refused(_LIBC.syscall(451, 0, None, None, 0)),  # cachestat
        _refused(_LIBC.syscall(327, 0, None, 0, 0, 0, 8)),  # preadv2(..., RWF_NOWAIT)
        _refused(_LIBC.syscall(425, 1, None)),  # io_uring_setup
        _refused(_LIBC.syscall(221, 0, 0, 0, 4)),  # fadvise64(..., POSIX_FADV_DONTNEED)
    ]
    return np.maximum(z, 0) if all(refused) else z
'''


@pytest.mark.parametrize("isolation", ["auto", "off"])
@pytest.mark.slow
def test_no_kernel_object_outlives_a_child(tmp_path, isolation):
    """A key in its uid's keyring outlived every process, even in bubblewrap, and a later
    submission read the hidden inputs out of it; System V IPC and POSIX queues did the same
    without isolation, and so did the page cache of a library every child reads, probed with
    RWF_NOWAIT (red team). The child's seccomp filter refuses all of these (EPERM)."""
    import platform

    if platform.machine() != "x86_64":
        pytest.skip("the syscall numbers above are x86_64's")
    folder = submission(tmp_path, "keys", "activations", OUTLIVING)
    results = check(folder, course_file(tmp_path, isolation), "--part", "activations")
    relu = [t for t in results["tests"] if t["name"].endswith("relu matches the reference")][0]
    assert relu["status"] == "passed", relu["output"]
    assert "keyrings" not in results["output"]  # no line saying the filter is not in force


def test_the_arguments_memory_cannot_be_resized_by_the_child():
    """Truncating it made the grader's read of it a SIGBUS (red team): it is sealed, and the
    grader reads it with pread, never through a mapping."""
    from grader.sandbox.process import Arena

    arena = Arena(1 << 20)
    try:
        for size in (0, 1 << 30):
            with pytest.raises(PermissionError):
                os.ftruncate(arena.fd, size)
        assert os.fstat(arena.fd).st_size == 1 << 20
    finally:
        arena.close()


def test_removal_goes_only_where_no_one_but_root_can_swap_a_path(tmp_path):
    """Root removes what a submission's uid left where anyone may write; it once followed a link
    that a classmate, still running, had swapped in for a folder of its own, and deleted what it
    pointed at (red team). Now only root's sticky folders are looked into, and each of the
    uid's entries there is removed whole, links never followed (GNU rm)."""
    student, classmate = bounds.fresh_uid(), bounds.fresh_uid()
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o1777)
    os.chmod(shared, 0o1777)  # like /tmp: root's, sticky, world-writable
    victim = tmp_path / "victim"
    (victim / "students").mkdir(parents=True)
    (victim / "students" / "results.json").write_text("{}")

    theirs = shared / "classmates"  # the classmate's own folder, writable by anyone, not sticky
    (theirs / "students").mkdir(parents=True)
    os.chmod(theirs, 0o777)
    os.chown(theirs, classmate, classmate)
    os.chown(theirs / "students", student, student)  # the student's entry inside the classmate's folder
    link = shared / "link"
    link.symlink_to(victim, target_is_directory=True)
    os.chown(link, student, student, follow_symlinks=False)
    mine = shared / "mine"
    (mine / "deep").mkdir(parents=True)
    (mine / "deep" / "file").write_text("x")
    for path in (mine, mine / "deep", mine / "deep" / "file"):
        os.chown(path, student, student)

    try:
        bounds.remove_leftovers_of(lambda info: info.st_uid == student, folders=(str(shared),))
        assert not mine.exists() and not link.is_symlink()  # the student's entries at the top: gone
        assert (victim / "students" / "results.json").is_file()  # the link's target: untouched
        assert (theirs / "students").is_dir()  # not looked into: a folder someone else can swap under us
    finally:
        bounds.remove_tree(shared)  # writable by anyone: it must not outlive the test


MILLIPEDE = '''
import os
import time


_MADE = []


def relu(z):  # right, after making folders in /tmp for 2 s, once (each was an rm of its own to remove)
    end = time.monotonic() + 2
    while not _MADE and time.monotonic() < end:
        os.mkdir(f"/tmp/millipede-{os.getpid()}-{time.monotonic_ns()}")
    _MADE.append(1)
    return np.maximum(z, 0)
'''


@pytest.mark.slow
def test_many_leftovers_cost_seconds_not_minutes(tmp_path):
    """211,000 folders made in 8 s cost six minutes of clean-up, one rm each, and kept the batch
    lock meanwhile (red team). Removed a thousand to an rm, the folders relu makes in 2 s go in
    a few seconds."""
    folder = submission(tmp_path, "millipede", "activations", MILLIPEDE)
    start = time.monotonic()
    results = check(folder, course_file(tmp_path, "off"), "--part", "activations")
    seconds = time.monotonic() - start
    assert results["score"] == 15
    assert not [e for e in os.scandir("/tmp") if e.name.startswith("millipede-")]
    assert seconds < 2 + 20, seconds  # one rm each: about 1.7 ms a folder, 25 s for the ~15,000 made here


def test_what_a_dead_grader_left_is_removed_by_the_next(tmp_path):
    """A batch worker killed at its time limit never swept: the files of its submission's uid
    stayed for good (red team). Entries of a uid from the kit's range that no process runs as,
    and that are older than a minute, are removed when the next grading starts; a uid that still
    runs, or one not the kit's, is left alone."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    dead, living = bounds.fresh_uid(), bounds.fresh_uid()
    for name, uid in (("dead", dead), ("living", living), ("someone", 1000)):
        (shared / name).mkdir()
        os.chown(shared / name, uid, uid)
    sleeper = subprocess.Popen(["sleep", "30"], user=living, group=living, extra_groups=[])
    try:
        real = time.time
        later = lambda: real() + 120  # noqa: E731  (as if the entries were two minutes old)
        bounds.time.time = later
        try:
            bounds.remove_orphaned_leftovers(folders=(str(shared),))
        finally:
            bounds.time.time = real
        assert sorted(p.name for p in shared.iterdir()) == ["living", "someone"]
        os.chown(shared / "living", dead, dead)  # a uid that no longer runs, but changed just now
        bounds.remove_orphaned_leftovers(folders=(str(shared),))
        assert (shared / "living").exists()  # too new to be anyone's leftover: a grader may be starting it
    finally:
        sleeper.kill()
        bounds.remove_tree(shared)


STUCK = '''
import os


def relu(z):  # leaves 48 MiB in /dev/shm and a folder in /tmp, then never returns
    with open(f"/dev/shm/stuck-{os.getpid()}", "wb") as f:
        f.write(b"x" * (48 << 20))
    os.mkdir(f"/tmp/stuck-{os.getpid()}")
    while True:
        pass
'''


@pytest.mark.slow
def test_a_worker_stopped_at_its_time_limit_leaves_nothing(tmp_path):
    """A batch worker stopped at --timeout killed its children, but left the submission's files
    in shared folders (768 MB of /dev/shm once), its private copy and its cgroups for the next
    student's grading to pay for (red team). It now cleans up, quickest first, before it exits."""
    room = tmp_path / "in"
    submission(room, "stuck", "activations", STUCK)
    before = {e.name for folder in ("/dev/shm", "/tmp") for e in os.scandir(folder)}
    cgroups = {p.name for p in Path("/sys/fs/cgroup/pids").glob("grade-*")}
    book = batch(room, course_file(tmp_path, "off", call_seconds=60), tmp_path / "out", "-j", "1", "--timeout", "5")
    assert book["stuck"]["status"] == "timeout"
    after = {e.name for folder in ("/dev/shm", "/tmp") for e in os.scandir(folder)}
    assert not [n for n in after - before if n.startswith(("stuck-", "grade-submission-", "grade-child-"))], after - before
    assert {p.name for p in Path("/sys/fs/cgroup/pids").glob("grade-*")} <= cgroups
    assert student_processes(tmp_path) == []
