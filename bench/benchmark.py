"""Benchmark `grade check solutions`: where the time goes, and how fast training is.

Run from anywhere (it changes to the repo root itself):

    .venv/bin/python bench/benchmark.py --runs 5

It runs `grade check solutions --format json --output <tmp>` --runs times (plots go
to a temporary folder, not grade-report/), times each whole command, and reads the
per-check seconds from results.json. GRADE_DATA_DIR defaults to ../shared/datasets/mnist
beside the repo. It also measures this machine's float32 matmul rate with NumPy and
reports the MNIST training's achieved GFLOP/s as a fraction of it. Then the cost of the
process boundary and its limits: a child's start and one call's round trip, with
bubblewrap isolation and without, and the whole command with `isolation: off`. The first
run starts with the reference's cached MNIST weights removed (the cold case). This is a
benchmark, not a test: it prints medians (min-max) and ratios, never pass/fail.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
GRADE = str(Path(sys.executable).parent / "grade")


def timed(cmd, env):
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    return time.perf_counter() - start, proc


def grade_run(env, course=None):
    """One `grade check solutions` run: (wall seconds, results.json as a dict)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.json"
        extra = ["--course", str(course)] if course else []
        wall, proc = timed([GRADE, "check", "solutions", "--format", "json", "--output", str(out),
                            "--report-dir", str(Path(tmp) / "report"), *extra], env)
        if not out.exists():
            sys.exit(f"grade check produced no results.json (exit {proc.returncode}):\n{proc.stderr}")
        return wall, json.loads(out.read_text())


def phases(wall, results):
    """Seconds per phase for one run, from its wall time and results.json."""
    tests = results["tests"]
    grad = [t for t in tests if "central differences" in t["name"]]
    mnist = [t for t in tests if t["extra_data"]["part"] == "mnist"]
    value = [t for t in tests if t not in grad and t not in mnist]
    trained = re.search(r"trained in ([\d.]+) s", results["output"])
    return {
        "start-up (wall - execution_time)": wall - results["execution_time"],
        "value checks (sum)": sum(t["extra_data"]["seconds"] for t in value),
        "gradient checks (sum)": sum(t["extra_data"]["seconds"] for t in grad),
        "MNIST training (trained in)": float(trained.group(1)) if trained else float("nan"),
        "MNIST check (grader waited)": sum(t["extra_data"]["seconds"] for t in mnist),
        "grader execution_time": results["execution_time"],
        "total (command wall)": wall,
    }


def boundary(runs, calls=300):
    """Seconds to start a child (until it is ready) and for one call's round trip, with the
    isolation this machine allows and with none: {mode: (starts, per-call times)}."""
    from grader.sandbox import Sandbox

    z = np.random.default_rng(0).standard_normal((128, 32))
    out = {}
    for mode in ("auto", "off"):
        starts, per_call = [], []
        for _ in range(runs):
            with Sandbox(ROOT / "solutions", isolation_mode=mode) as box:
                start = time.perf_counter()
                box.start()
                starts.append(time.perf_counter() - start)
                box.call("relu", z)
                start = time.perf_counter()
                for _ in range(calls):
                    box.call("relu", z)
                per_call.append((time.perf_counter() - start) / calls)
            label = box.describe()[0].split(" (")[0].removeprefix("isolation: ")
        out[label] = (starts, per_call)
    return out


def matmul_gflops(n=1024, repeats=10):
    """Best and median float32 GEMM rate, GFLOP/s, of an n x n @ n x n product."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    a @ b  # warm up (thread pool, caches)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        rates.append(2 * n**3 / (time.perf_counter() - start) / 1e9)
    return max(rates), statistics.median(rates)


def training_flops(data_dir):
    """FLOPs of the course's MNIST training in the child: forward+backward per train example
    per epoch (the test set's forward passes are the grader's, in the parent, meanwhile)."""
    from grader.mnist import load_mnist

    training = yaml.safe_load((ROOT / "course.yaml").read_text())["training"]
    sizes = [784, *training["hidden_sizes"], 10]
    layers = [2 * n_out * n_in for n_in, n_out in zip(sizes, sizes[1:])]
    forward = sum(layers)
    backward = sum(layers) + sum(layers[1:])  # dW for every layer, delta propagation for l >= 2
    data = load_mnist(data_dir)
    n_train, n_test = data.train_labels.size, data.test_labels.size
    total = training["epochs"] * n_train * (forward + backward)
    return total, sizes, training, n_train, n_test


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="how many `grade check` runs (default 5)")
    args = parser.parse_args()
    env = dict(os.environ)
    env.setdefault("GRADE_DATA_DIR", str(ROOT.parent / "shared" / "datasets" / "mnist"))

    help_walls = [timed([GRADE, "--help"], env)[0] for _ in range(args.runs)]
    shutil.rmtree(ROOT / ".grade-cache", ignore_errors=True)  # the first run trains the reference too
    runs = []
    for i in range(args.runs):
        wall, results = grade_run(env)
        runs.append((phases(wall, results), results["score"]))
        print(f"run {i + 1}/{args.runs}: {wall:.2f} s, score {results['score']:g}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:  # the same course with isolation off
        tree = yaml.safe_load((ROOT / "course.yaml").read_text())
        tree["isolation"] = "off"
        tree["training"]["reference"] = str(ROOT / "solutions")
        plain_course = Path(tmp) / "course.yaml"
        plain_course.write_text(yaml.safe_dump(tree))
        shutil.copytree(ROOT / ".grade-cache", Path(tmp) / ".grade-cache")  # warm, like the runs it is compared with
        plain_walls = [grade_run(env, plain_course)[0] for _ in range(args.runs)]
    crossing = boundary(args.runs)
    peak, typical = matmul_gflops()

    def row(name, values):
        print(f"  {name:<36} {statistics.median(values):7.3f}  ({min(values):.3f} - {max(values):.3f})")

    print(f"\n`grade check solutions`, {args.runs} runs; seconds: median (min - max)")
    row("bare CLI start-up (grade --help)", help_walls)
    for name in runs[0][0]:
        row(name, [p[name] for p, _ in runs])
    scores = [s for _, s in runs]
    print(f"  score 100 in every run: {'yes' if all(s == 100 for s in scores) else 'NO'} "
          f"(scores {', '.join(f'{s:g}' for s in scores)})")
    print("  note: training runs in a background child process concurrently with the other checks;")
    print("        'trained in' is rounded to 0.1 s in the grader's output")
    cold, warm = runs[0][0]["total (command wall)"], [p["total (command wall)"] for p, _ in runs[1:]]
    if warm:
        print(f"  cold run (reference trained too)     {cold:7.3f}  vs warm median {statistics.median(warm):.3f}")

    print(f"\nThe process boundary and its limits ({args.runs} children each; per call: median of "
          "300-call means, relu on 128x32)")
    for mode, (starts, per_call) in crossing.items():
        row(f"child start, isolation {mode}", starts)
        print(f"  {'one call, isolation ' + mode:<36} {statistics.median(per_call) * 1e6:7.1f} us")
    (auto_starts, auto_calls), (off_starts, off_calls) = crossing.values()
    print(f"  isolation's extra start-up              {statistics.median(auto_starts) - statistics.median(off_starts):+.3f} s "
          f"per child; per call x{statistics.median(auto_calls) / statistics.median(off_calls):.2f}")
    total_auto = statistics.median(p["total (command wall)"] for p, _ in runs)
    row("total, isolation off", plain_walls)
    print(f"  total with isolation / without           x{total_auto / statistics.median(plain_walls):.2f}")

    flops, sizes, training, n_train, n_test = training_flops(env["GRADE_DATA_DIR"])
    train_s = statistics.median(p["MNIST training (trained in)"] for p, _ in runs)
    achieved = flops / train_s / 1e9
    print(f"\nTraining throughput: {'-'.join(map(str, sizes))}, {training['epochs']} epochs x "
          f"{n_train:,} train (fwd+bwd) in the child, batch {training['batch_size']}; the {n_test:,} test "
          "images are scored by the grader")
    print(f"  training FLOPs                 {flops / 1e9:9.1f} GFLOP")
    print(f"  achieved                       {achieved:9.2f} GFLOP/s  (median {train_s:.1f} s)")
    print(f"  float32 1024^3 matmul          {peak:9.2f} GFLOP/s best, {typical:.2f} median")
    print(f"  ratio achieved / matmul best   {achieved / peak:9.1%}")
    print(f"  batch {training['batch_size']} makes each matmul tiny ({sizes[1]}x{sizes[0]} @ {sizes[0]}x"
          f"{training['batch_size']}), so Python and per-call overhead, not FLOPs, set the pace.")


if __name__ == "__main__":
    main()
