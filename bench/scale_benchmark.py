"""Issue 15's other two figures: the time to a verdict when a blank never returns, and `grade
batch` throughput with `-j 2` against a two-worker local Dask cluster.

    .venv/bin/python bench/scale_benchmark.py [--runs 3] [--students 12]

1. A copy of solutions/backprop whose relu_prime loops forever, graded with `grade check`
   (the course's limits: call_seconds 10): wall seconds per run. Before the child's watchdog
   (grader/child/watchdog.py) training waited for limits.training_seconds, 300 s.
2. --students copies of the reference (a third of them with one wrong blank), graded by
   `grade batch -j 2` and by `grade batch --cluster` on a `dask scheduler` with two `dask worker
   --nthreads 1` on this machine, the two alternating, each run with --force: submissions per
   minute, and whether the two gradebooks agree (seconds aside).

A benchmark, not a test: it prints medians (min - max), never pass/fail.
"""

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
GRADE, DASK = str(BIN / "grade"), str(BIN / "dask")
SOLUTIONS = ROOT / "solutions" / "backprop"


def copy(dest, append=None):
    dest.mkdir(parents=True)
    for path in SOLUTIONS.glob("*.py"):
        shutil.copy(path, dest / path.name)
    if append:
        module, code = append
        with open(dest / module, "a") as f:
            f.write("\n\n" + code + "\n")
    return dest


def timed(cmd, env):
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    return time.perf_counter() - start, proc


def book(out):
    with open(out / "gradebook.csv") as f:
        return {r["student"]: {k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)}


def start_cluster(root, env):
    file = root / "scheduler.json"
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(file)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    while not file.is_file():
        time.sleep(0.1)
    address = json.loads(file.read_text())["address"]
    procs += [subprocess.Popen([DASK, "worker", address, "--nthreads", "1", "--no-dashboard", "--local-directory",
                                str(root / f"w{i}")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
              for i in range(2)]
    from distributed import Client

    with Client(address) as client:
        client.wait_for_workers(2, timeout=120)
    return address, procs


def row(name, values, unit="s"):
    print(f"  {name:<44} {statistics.median(values):8.2f} {unit}  ({min(values):.2f} - {max(values):.2f})")


def hanging(env, root, runs):
    """Seconds to the verdict of `grade check` on a copy of the reference whose relu_prime loops."""
    stuck = copy(root / "stuck", ("activations.py", "def relu_prime(z):\n    while True:\n        pass"))
    walls = []
    for i in range(runs):
        wall, proc = timed([GRADE, "check", str(stuck), "--no-plots", "--report-dir", str(root / "r")], env)
        walls.append(wall)
        print(f"stuck relu_prime, run {i + 1}: {wall:.2f} s (exit {proc.returncode})", file=sys.stderr)
    return walls


def throughput(env, root, runs, students):
    """Submissions per minute of `grade batch -j 2` and of `grade batch --cluster` on a local Dask
    cluster (scheduler and two workers), alternating: (local, cluster, gradebooks equal per run)."""
    folder = root / "class"
    wrong = ("updates.py",
             "def sgd_update(params, grads, lr):\n    return {k: params[k] + lr * grads[k] for k in params}")
    for i in range(students):
        copy(folder / f"student{i:03d}", wrong if i % 3 == 2 else None)
    address, procs = start_cluster(root, env)
    local, remote, agree = [], [], []
    try:
        for i in range(runs):
            for label, extra, into in (("-j 2", ["-j", "2"], local), ("--cluster", ["--cluster", address], remote)):
                out = root / f"out-{label.strip('-')[0]}-{i}"
                wall, proc = timed([GRADE, "batch", str(folder), "--out", str(out), "--force", *extra], env)
                if proc.returncode:
                    sys.exit(f"grade batch {label} failed:\n{proc.stderr[-2000:]}")
                into.append(students / wall * 60)
                print(f"batch {label}, run {i + 1}: {wall:.1f} s", file=sys.stderr)
            agree.append(book(root / f"out-j-{i}") == book(root / f"out-c-{i}"))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    return local, remote, agree


def report(hang, local, remote, agree, runs, students):
    print(f"\nA blank that never returns (relu_prime in an endless loop), `grade check`, {runs} runs")
    row("time to the verdict", hang)
    print("  before the watchdog: training waited for limits.training_seconds (300 s)")
    print(f"\n`grade batch` of {students} submissions, {runs} runs each, alternating; submissions per minute")
    row("-j 2 (two local workers)", local, "/min")
    row("--cluster (local Dask: scheduler + 2 workers)", remote, "/min")
    print(f"  cluster / local, medians: x{statistics.median(remote) / statistics.median(local):.2f}")
    print(f"  gradebooks equal (seconds aside) in every run: {'yes' if all(agree) else 'NO'}")


def environment():
    env = dict(os.environ)
    env.setdefault("GRADE_DATA_DIR", str(ROOT.parent / "shared" / "datasets" / "mnist"))
    env["GRADE_ASSIGNMENT"] = "backprop"
    return env


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--students", type=int, default=12)
    args = parser.parse_args()
    env = environment()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env["TMPDIR"] = str(root)
        hang = hanging(env, root, args.runs)
        local, remote, agree = throughput(env, root, args.runs, args.students)
    report(hang, local, remote, agree, args.runs, args.students)


if __name__ == "__main__":
    main()
