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
run starts with the reference's cached MNIST weights removed (the cold case).

Where the start-up goes: besides `grade --help`, it times `python -c pass` (the
interpreter's start) and `python -c "import grader.cli"` (the CLI's imports), each --runs
times.

The yardstick: `nbgrader autograde` of a notebook with two trivial functions (add, square)
and their two test cells, in a minimal nbgrader course built in a temporary folder
(generate_assignment once, a correct submission from student1). Each round runs one
`grade check solutions`, then one `nbgrader autograde trivial --force` (whole commands,
wall time), so the machine's noise hits both alike. It prints both medians (min-max), the
ratio of the medians, ours / nbgrader (the target is <= 1.0), the per-round ratios' median
and the same ratio over the warm rounds only. Every autograde's score is read back from the
gradebook; anything but full marks aborts the benchmark. --no-nbgrader skips all this.

Then issue 15's other two figures (bench/scale_benchmark.py, --scale-runs times; --no-scale
skips them): the time to the verdict of a submission whose relu_prime never returns, and
`grade batch` throughput of --students submissions with -j 2 against a two-worker local Dask
cluster. It ends with the four figures side by side.

Before anything, it compiles the package's .pyc files (python -m compileall grader), as pip
install or a first run leaves them: this machine sets PYTHONDONTWRITEBYTECODE, and without
them every `grade` run compiles its modules again (0.05-0.1 s), which no student's does.

This is a benchmark, not a test: it prints medians (min-max) and ratios, never pass/fail.
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
import scale_benchmark
import yaml

ROOT = Path(__file__).resolve().parent.parent
GRADE = str(Path(sys.executable).parent / "grade")


def timed(cmd, env):
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    return time.perf_counter() - start, proc


def grade_run(env, course=None):
    """One `grade check solutions` run: (wall seconds, results.json as a dict). results.json
    gains "_verdict" and "_page": seconds from the start until the verdict (results.json) and
    the feedback page (drawn after it) were on disk, read off the files' modification times."""
    with tempfile.TemporaryDirectory() as tmp:
        out, page = Path(tmp) / "results.json", Path(tmp) / "report" / "report.html"
        extra = ["--course", str(course)] if course else []
        began = time.time()
        wall, proc = timed([GRADE, "check", "solutions/backprop", "--format", "json", "--output", str(out),
                            "--report-dir", str(page.parent), *extra], env)
        if not out.exists() or not page.exists():
            sys.exit(f"grade check produced no results.json or page (exit {proc.returncode}):\n{proc.stderr}")
        results = json.loads(out.read_text())
        results["_verdict"], results["_page"] = out.stat().st_mtime - began, page.stat().st_mtime - began
        return wall, results


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
        "verdict on disk (results.json)": results["_verdict"],
        "page and plots drawn, after it": results["_page"] - results["_verdict"],
        "total (command wall)": wall,
    }


def boundary(runs, calls=300):
    """Seconds to start a child (until it is ready) and for one call's round trip, with the
    isolation this machine allows and with none: {mode: (starts, per-call times)}."""
    from grader import config
    from grader.sandbox.process import Sandbox

    blanks = config.load(ROOT / "course.yaml", "backprop").blanks

    z = np.random.default_rng(0).standard_normal((128, 32))
    out = {}
    for mode in ("auto", "off"):
        starts, per_call = [], []
        for _ in range(runs):
            with Sandbox(ROOT / "solutions" / "backprop", isolation_mode=mode, blanks=blanks) as box:
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


NBGRADER_CONFIG = """\
c = get_config()
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "bench"
c.CourseDirectory.db_url = {db_url!r}  # in the temporary folder, never a gradebook.db of the caller's
c.Execute.timeout = 60  # per cell; two trivial cells take milliseconds, so a hang fails, not stalls
"""


def nbgrader_cell(source, **meta):
    """A code cell with nbgrader's metadata (schema 3): a solution cell or a test cell."""
    import nbformat

    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"schema_version": 3, **meta}
    return cell


def nbgrader_course(root, env):
    """A minimal real nbgrader course in root: a two-function assignment `trivial`, generated,
    and a correct submission from student1. Returns the nbgrader environment and the db url."""
    import nbformat

    db_url = f"sqlite:///{root / 'gradebook.db'}"
    (root / "nbgrader_config.py").write_text(NBGRADER_CONFIG.format(root=str(root), db_url=db_url))
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    answer = dict(grade=False, solution=True, locked=False)
    test = dict(grade=True, solution=False, locked=True, points=1)
    nb.cells = [
        nbgrader_cell("def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION",
                      grade_id="add", **answer),
        nbgrader_cell("def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
                      grade_id="square", **answer),
        nbgrader_cell("assert add(2, 3) == 5\nassert add(-1, 1) == 0", grade_id="test_add", **test),
        nbgrader_cell("assert square(4) == 16\nassert square(-3) == 9", grade_id="test_square", **test),
    ]
    source = root / "source" / "trivial" / "trivial.ipynb"
    source.parent.mkdir(parents=True)
    nbformat.write(nb, source)
    # nbgrader runs alembic (its db migrations) from PATH: this venv's bin must come first
    nb_env = dict(env, PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]))
    for args in (["generate_assignment", "trivial", "--force"], ["db", "student", "add", "student1"]):
        nbgrader(args, root, nb_env)
    submitted = root / "submitted" / "student1" / "trivial" / "trivial.ipynb"
    submitted.parent.mkdir(parents=True)
    shutil.copy(source, submitted)  # the solutions are in place: a submission worth full marks
    return nb_env, db_url


def nbgrader(args, root, env):
    """Run `nbgrader <args>` in the course folder root; exit loudly if it fails. Wall seconds."""
    exe = Path(sys.executable).parent / "nbgrader"
    if not exe.exists():
        sys.exit(f"no nbgrader beside {sys.executable}; install it or pass --no-nbgrader")
    start = time.perf_counter()
    proc = subprocess.run([str(exe), *args], cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"nbgrader {' '.join(args)} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return wall


def autograde_run(root, env, db_url):
    """One `nbgrader autograde trivial --force`: its wall seconds, once the gradebook shows it
    graded the submission with full marks (a command that silently graded nothing is no yardstick)."""
    from nbgrader.api import Gradebook

    graded = root / "autograded" / "student1" / "trivial" / "trivial.ipynb"
    shutil.rmtree(graded.parent, ignore_errors=True)  # --force removes it too; this way we know it is new
    wall = nbgrader(["autograde", "trivial", "--force"], root, env)
    if not graded.exists():
        sys.exit(f"nbgrader autograde exited 0 but wrote no {graded}")
    with Gradebook(db_url) as gradebook:
        submission = gradebook.find_submission("trivial", "student1")
        score, max_score = submission.score, submission.max_score
    if max_score != 2 or score != max_score:
        sys.exit(f"nbgrader autograde scored {score:g} / {max_score:g}, not 2 / 2: the yardstick is broken")
    return wall


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
    from grader.data.mnist import load_mnist

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
    parser.add_argument("--no-nbgrader", action="store_true",
                        help="skip the `nbgrader autograde` yardstick (one autograde after each run)")
    parser.add_argument("--no-scale", action="store_true",
                        help="skip the hanging blank and the batch throughput (bench/scale_benchmark.py)")
    parser.add_argument("--scale-runs", type=int, default=3, help="runs of each of those (default 3)")
    parser.add_argument("--students", type=int, default=8, help="submissions in the batch (default 8)")
    args = parser.parse_args()
    env = dict(os.environ)
    env.setdefault("GRADE_DATA_DIR", str(ROOT.parent / "shared" / "datasets" / "mnist"))
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "grader")], check=True)

    # start-up, layer by layer: the interpreter, then the CLI's imports, then click's --help
    python_walls = [timed([sys.executable, "-c", "pass"], env)[0] for _ in range(args.runs)]
    import_walls = [timed([sys.executable, "-c", "import grader.cli"], env)[0] for _ in range(args.runs)]
    help_walls = [timed([GRADE, "--help"], env)[0] for _ in range(args.runs)]
    one_blank = [timed([GRADE, "check", "solutions/backprop", "-k", "relu_prime", "--no-plots", "--report-dir",
                        tempfile.mkdtemp()], env)[0] for _ in range(args.runs)]
    runs, nbgrader_walls, floor_walls = [], [], []
    with tempfile.TemporaryDirectory() as nb_tmp:
        if not args.no_nbgrader:  # built before the cache goes, so round 1 is cold only on our side
            nb_root = Path(nb_tmp)
            nb_env, db_url = nbgrader_course(nb_root, env)
        shutil.rmtree(ROOT / ".grade-cache", ignore_errors=True)  # the first run trains the reference too
        for i in range(args.runs):  # interleaved: the machine's noise hits both commands alike
            wall, results = grade_run(env)
            runs.append((phases(wall, results), results["score"]))
            floor_wall, floor_proc = timed([sys.executable, str(ROOT / "bench" / "floor.py"), env["GRADE_DATA_DIR"]], env)
            floor_walls.append(floor_wall)
            line = f"run {i + 1}/{args.runs}: {wall:.2f} s, score {results['score']:g}; floor {floor_wall:.2f} s, " \
                f"{floor_proc.stdout.strip()}"
            failed = [t["name"] for t in results["tests"] if t["score"] < t["max_score"]]
            if failed:  # a run that failed checks may be fast for the wrong reason: say which
                line += f" (failed: {'; '.join(failed)})"
            if not args.no_nbgrader:
                nbgrader_walls.append(autograde_run(nb_root, nb_env, db_url))
                line += f"; nbgrader autograde {nbgrader_walls[-1]:.2f} s, 2/2"
            print(line, file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:  # the same course with isolation off
        tree = yaml.safe_load((ROOT / "course.yaml").read_text())
        tree["isolation"] = "off"
        tree["training"]["reference"] = str(ROOT / "solutions")
        plain_course = Path(tmp) / "course.yaml"
        plain_course.write_text(yaml.safe_dump(tree))
        (Path(tmp) / "exercises").symlink_to(ROOT / "exercises", target_is_directory=True)  # its public vectors
        shutil.copytree(ROOT / ".grade-cache", Path(tmp) / ".grade-cache")  # warm, like the runs it is compared with
        plain_walls = [grade_run(env, plain_course)[0] for _ in range(args.runs)]
    crossing = boundary(args.runs)
    peak, typical = matmul_gflops()

    def row(name, values):
        print(f"  {name:<36} {statistics.median(values):7.3f}  ({min(values):.3f} - {max(values):.3f})")

    def ratio(name, value, note):
        print(f"  {name:<36} {'x' + format(value, '.2f'):>7}  {note}")

    print(f"\n`grade check solutions`, {args.runs} runs; seconds: median (min - max)")
    row("interpreter start (python -c pass)", python_walls)
    row("imports (-c 'import grader.cli')", import_walls)
    row("bare CLI start-up (grade --help)", help_walls)
    row("one blank (-k relu_prime, 2 checks)", one_blank)
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

    ours, verdicts = [p["total (command wall)"] for p, _ in runs], [p["verdict on disk (results.json)"] for p, _ in runs]
    print(f"\nAgainst the floor: bench/floor.py, a bare NumPy script that loads the same MNIST files and trains the "
          f"same budget with the same equations, grading nothing; {args.runs} rounds interleaved (round 1 trains "
          "the reference too)")
    row("floor (python bench/floor.py)", floor_walls)
    row("grade check: verdict on disk", verdicts)
    row("grade check: command wall", ours)
    ratio("verdict / floor, medians", statistics.median(verdicts) / statistics.median(floor_walls), "(target <= 1.25)")
    ratio("command / floor, medians", statistics.median(ours) / statistics.median(floor_walls), "(the page after it)")
    if len(ours) > 1:
        ratio("verdict / floor, warm rounds", statistics.median(verdicts[1:]) / statistics.median(floor_walls[1:]), "")

    if nbgrader_walls:
        per_round = [a / b for a, b in zip(ours, nbgrader_walls)]
        print(f"\nAgainst nbgrader: `nbgrader autograde` of a two-function notebook (add, square; 2 test "
              f"cells), {args.runs} rounds interleaved; seconds: median (min - max)")
        row("grade check solutions (command wall)", ours)
        row("nbgrader autograde (command wall)", nbgrader_walls)
        print("  nbgrader scored 2 / 2 in every round (read back from its gradebook)")
        ratio("ratio of medians, ours / nbgrader",
              statistics.median(ours) / statistics.median(nbgrader_walls), "(target <= 1.00)")
        ratio("per-round ratios: median", statistics.median(per_round),
              f"(x{min(per_round):.2f} - x{max(per_round):.2f})")
        if len(ours) > 1:  # round 1 trains the reference too, which a student's check never does
            warm_rounds = "(round 2)" if args.runs == 2 else f"(rounds 2-{args.runs})"
            ratio("ratio of medians, warm rounds only",
                  statistics.median(ours[1:]) / statistics.median(nbgrader_walls[1:]), warm_rounds)

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


    if not args.no_scale:
        with tempfile.TemporaryDirectory() as tmp:
            scale_env = dict(scale_benchmark.environment(), TMPDIR=tmp)
            hang = scale_benchmark.hanging(scale_env, Path(tmp), args.scale_runs)
            local, remote, agree = scale_benchmark.throughput(scale_env, Path(tmp), args.scale_runs, args.students)
        scale_benchmark.report(hang, local, remote, agree, args.scale_runs, args.students)

    per_round = [v / f for v, f in zip(verdicts, floor_walls)]
    print("\nWhere we stand (issue 15), this run; medians (min - max)")
    print(f"  1. grade check solutions, verdict / bare script    x{statistics.median(verdicts) / statistics.median(floor_walls):.2f}"
          f"  (per round x{min(per_round):.2f} - x{max(per_round):.2f}; target <= 1.25)")
    if nbgrader_walls:
        nb_round = [a / b for a, b in zip(ours, nbgrader_walls)]
        print(f"  2. grade check / nbgrader autograde (commands)     x{statistics.median(ours) / statistics.median(nbgrader_walls):.2f}"
              f"  (per round x{min(nb_round):.2f} - x{max(nb_round):.2f})")
    else:
        print("  2. grade check / nbgrader autograde                 not measured (--no-nbgrader)")
    if not args.no_scale:
        print(f"  3. verdict with a blank in an endless loop        {statistics.median(hang):6.2f} s"
              f"  ({min(hang):.2f} - {max(hang):.2f}; target <= 20 s)")
        print(f"  4. grade batch, submissions per minute: -j 2 {statistics.median(local):.1f} ({min(local):.1f} - "
              f"{max(local):.1f}), local Dask cluster {statistics.median(remote):.1f} ({min(remote):.1f} - "
              f"{max(remote):.1f}); gradebooks equal: {'yes' if all(agree) else 'NO'}")
    else:
        print("  3-4. not measured (--no-scale)")


if __name__ == "__main__":
    main()
