"""Benchmark `grade batch` against nbgrader's own autograde on the same notebook submissions.

Run from anywhere (it changes to a temporary nbgrader course of its own):

    .venv/bin/python bench/batch_benchmark.py            # --count 50, about 10-15 minutes
    .venv/bin/python bench/batch_benchmark.py --count 10 --skip-nbgrader --keep

It builds an nbgrader course in a temporary folder from notebooks/source/backprop/ (course.yaml
as the kit's, with training.reference made absolute, the kit's solutions/, so the MNIST check
compares weights; nbgrader_config.py with Execute.timeout = 60 s per cell), runs `nbgrader
generate_assignment`, and writes --count submissions, a seeded mix: 40% correct, 40% partly
wrong (one or two blanks with a classic bug), 20% crashing (a raise before a blank's def, an
os._exit(1) or a ZeroDivisionError in a blank, an endless loop in sigmoid_prime, a syntax
error, an untouched stub). An unmeasured `grade batch` of one correct submission warms the
reference's MNIST weights cache (.grade-cache/) that both graders then read. Then, in one run,
it times `nbgrader autograde` of all of them (each check cell calls grade_part, which runs
`grade check --part` in a subprocess), then `grade batch --force` with each --jobs, and
compares each student's total in nbgrader's grades.csv with ours in gradebook.csv. This is a
benchmark, not a test: it prints wall times, seconds per submission, ratios and whether -j 2
reaches the 5x target, and asserts nothing (exit 0 whatever the figures).
"""
import argparse
import csv
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BUGS = {  # partly wrong: (cell id, reference text, wrong text)
    "relu returns z": ("activations-relu", "np.maximum(z, 0)", "z"),
    "sigmoid_prime lacks (1 - s)": ("activations-sigmoid_prime", "s * (1 - s)", "s"),
    "softmax over axis 1": ("softmax_ce-softmax", "axis=0", "axis=1"),
    "output_delta without / m": ("softmax_ce-output_delta", "(a - y) / m", "a - y"),
    "db averaged": ("updates-layer_gradients", "delta.sum(axis=1", "delta.mean(axis=1"),
    "dW transposed": ("updates-layer_gradients", "delta @ a_prev.T", "a_prev @ delta.T"),
}
CRASHES = ("raise before def", "os._exit(1) in a blank", "endless loop in sigmoid_prime", "syntax error",
           "ZeroDivisionError in a blank", "untouched stub")


def text(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def make_course(course):
    (course / "source" / "backprop").mkdir(parents=True)
    shutil.copy(ROOT / "notebooks" / "source" / "backprop" / "backprop.ipynb", course / "source" / "backprop")
    yaml_text = (ROOT / "course.yaml").read_text()
    (course / "course.yaml").write_text(re.sub(r"(?m)^(\s*reference:\s*)solutions\b", rf"\g<1>{ROOT / 'solutions'}",
                                               yaml_text))
    (course / "exercises").symlink_to(ROOT / "exercises", target_is_directory=True)  # the public vectors
    (course / "nbgrader_config.py").write_text(f'c = get_config()\nc.CourseDirectory.course_id = "bench"\n'
                                               f'c.CourseDirectory.root = "{course}"\nc.Execute.timeout = 60\n')


def make_submissions(course, count, seed):
    """Write submitted/<student>/backprop/backprop.ipynb; returns {student: kind}."""
    reference = {c["id"]: text(c) for c in json.loads((course / "source/backprop/backprop.ipynb").read_text())["cells"]}
    release = json.loads((course / "release/backprop/backprop.ipynb").read_text())
    blanks = [c["id"] for c in release["cells"] if c["metadata"].get("nbgrader", {}).get("solution")]
    rng = random.Random(seed)
    n_correct, n_wrong = round(0.4 * count), round(0.4 * count)
    plans = ([("correct", {})] * n_correct
             + [("wrong", rng.sample(sorted(BUGS), rng.choice((1, 2)))) for _ in range(n_wrong)]
             + [("crash", CRASHES[i % len(CRASHES)]) for i in range(count - n_correct - n_wrong)])
    rng.shuffle(plans)
    kinds = {}
    for i, (group, what) in enumerate(plans):
        cells = {b: reference[b] for b in blanks}
        if group == "wrong":
            for bug in what:
                cell_id, old, new = BUGS[bug]
                cells[cell_id] = cells[cell_id].replace(old, new)
        elif group == "crash":
            victim = rng.choice(blanks)
            body = "    ### BEGIN SOLUTION\n"
            if what == "raise before def":
                cells[victim] = 'raise RuntimeError("broken at definition time")\n' + cells[victim]
            elif what == "os._exit(1) in a blank":
                cells[victim] = cells[victim].replace(body, body + "    import os; os._exit(1)\n")
            elif what == "endless loop in sigmoid_prime":
                victim = "activations-sigmoid_prime"
                cells[victim] = cells[victim].replace(body, body + "    while True:\n        pass\n")
            elif what == "syntax error":
                cells[victim] = cells[victim].replace(body, body + "    return (1 +\n")
            elif what == "ZeroDivisionError in a blank":
                cells[victim] = cells[victim].replace(body, body + "    1 / 0\n")
            what = f"{what} ({victim})" if what != "untouched stub" else what
        notebook = json.loads(json.dumps(release))
        if what != "untouched stub":
            for cell in notebook["cells"]:
                if cell.get("id") in cells:
                    cell["source"] = cells[cell["id"]]
        student = f"s{i:02d}"
        folder = course / "submitted" / student / "backprop"
        folder.mkdir(parents=True)
        (folder / "backprop.ipynb").write_text(json.dumps(notebook))
        kinds[student] = (group, what if group != "wrong" else " + ".join(what))
    return kinds


def timed(cmd, cwd, env, log):
    start = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=f, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"{' '.join(map(str, cmd))} failed (exit {proc.returncode}):\n{proc.stdout}"
                 f"{Path(log).read_text()[-3000:]}")
    return wall, proc.stdout


def our_batch(course, jobs, out, env, log):
    wall, stdout = timed([BIN / "grade", "batch", course / "submitted", "-j", str(jobs), "--out", out, "--force",
                          "--course", course / "course.yaml"], course, env, log)
    said = re.search(r"in ([\d.]+) s with -j", stdout)
    with open(out / "gradebook.csv", newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    return wall, float(said.group(1)) if said else float("nan"), stdout.splitlines()[0], rows


def autograded(course, student):
    """From nbgrader's autograded notebook: the score each check cell returned ('error' if it
    raised), the seconds from the first cell's start to the last one's end, and the MNIST check's."""
    notebook = json.loads((course / "autograded" / student / "backprop" / "backprop.ipynb").read_text())
    parts, spans = {}, {}
    for cell in notebook["cells"]:
        when = cell.get("metadata", {}).get("execution", {})
        if "shell.execute_reply" in when:  # nbclient's timestamps of each executed cell
            spans[cell["id"]] = [datetime.fromisoformat(when[k]).timestamp()
                                 for k in ("iopub.execute_input", "shell.execute_reply")]
        if cell.get("id", "").startswith("check-"):
            outs = cell.get("outputs", [])
            value = [o["data"]["text/plain"] for o in outs if o["output_type"] == "execute_result"]
            parts[cell["id"][6:]] = text({"source": value[0]}) if value else "error" if outs else "-"
    nan = [float("nan")] * 2
    runs, mnist = list(spans.values()) or [nan], spans.get("check-mnist", nan)
    return parts, runs[-1][1] - runs[0][0], mnist[1] - mnist[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50, help="how many submissions (default 50)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="grade batch -j values (default 1 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mix of submissions (default 0)")
    parser.add_argument("--skip-nbgrader", action="store_true", help="time only `grade batch`")
    parser.add_argument("--keep", action="store_true", help="keep the temporary course folder")
    args = parser.parse_args()
    course = Path(tempfile.mkdtemp(prefix="batch-bench-"))
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               GRADE_COURSE=str(course / "course.yaml"))  # nbgrader's kernels would also find it upward
    env.setdefault("GRADE_DATA_DIR", str(ROOT.parent / "shared" / "datasets" / "mnist"))
    try:
        make_course(course)
        timed([BIN / "nbgrader", "generate_assignment", "backprop", "--force"], course, env, course / "generate.log")
        kinds = make_submissions(course, args.count, args.seed)
        warm = course / "warmup" / "w"  # unmeasured: trains (or caches) the reference's MNIST weights
        warm.mkdir(parents=True)
        shutil.copy(course / "submitted" / next(s for s, k in kinds.items() if k[0] == "correct") / "backprop" /
                    "backprop.ipynb", warm)
        timed([BIN / "grade", "batch", warm.parent, "-j", "1", "--out", course / "out-warmup", "--course",
               course / "course.yaml"], course, env, course / "warmup.log")
        (course / "kinds.txt").write_text("".join(f"{s} {g}: {w}\n" for s, (g, w) in kinds.items()))
        print(f"{args.count} submissions (list in kinds.txt): "
              + ", ".join(f"{sum(k[0] == g for k in kinds.values())} {g}" for g in ("correct", "wrong", "crash")))
        print("  crashing: " + "; ".join(f"{s} {w}" for s, (g, w) in kinds.items() if g == "crash"))
        phases, books = [], {}
        if not args.skip_nbgrader:
            print("nbgrader autograde ...", file=sys.stderr)
            wall, _ = timed([BIN / "nbgrader", "autograde", "backprop", "--force"], course, env,
                            course / "autograde.log")
            timed([BIN / "nbgrader", "export"], course, env, course / "export.log")
            phases.append(("nbgrader autograde", wall))
            cells = [autograded(course, s)[1:] for s in kinds]
            print(f"  nbgrader: {sum(c[0] for c in cells):.1f} s executing cells (median "
                  f"{statistics.median(c[0] for c in cells):.1f} s a notebook, of which check-mnist "
                  f"{statistics.median(c[1] for c in cells):.1f} s); the other {wall - sum(c[0] for c in cells):.1f} s "
                  "start kernels and run nbgrader itself")
            with open(course / "grades.csv", newline="") as f:
                books["nbgrader"] = {r["student_id"]: float(r["raw_score"] or 0) for r in csv.DictReader(f)}
        for jobs in args.jobs:
            print(f"grade batch -j {jobs} ...", file=sys.stderr)
            wall, said, summary, rows = our_batch(course, jobs, course / f"out-j{jobs}", env,
                                                  course / f"batch-j{jobs}.log")
            phases += [(f"grade batch -j {jobs} (wall)", wall), (f"grade batch -j {jobs} (its summary line)", said)]
            books[f"-j {jobs}"] = {s: float(r["total"]) for s, r in rows.items()}
            print(f"  {summary}")
            if jobs == args.jobs[0]:
                by_kind = {}
                for student, row in rows.items():
                    by_kind.setdefault(kinds[student][0], []).append(float(row["seconds"]))
                print("  seconds per submission by kind (median, max): " + "; ".join(
                    f"{k} {statistics.median(v):.1f}, {max(v):.1f}" for k, v in sorted(by_kind.items())))

        n = args.count
        base = phases[0][1] / n if not args.skip_nbgrader else None
        print(f"\n{n} notebook submissions; ratio = nbgrader's seconds per submission / this phase's")
        print(f"  {'phase':<40} {'wall s':>8} {'s/sub':>7} {'ratio':>7}")
        for name, wall in phases:
            ratio = f"x{base / (wall / n):.2f}" if base else "-"
            print(f"  {name:<40} {wall:8.1f} {wall / n:7.2f} {ratio:>7}")
        if base and 2 in args.jobs:
            j2 = dict(phases)["grade batch -j 2 (wall)"] / n
            print(f"  target: -j 2 at least 5x faster per submission than nbgrader: x{base / j2:.2f} "
                  f"({'met' if base / j2 >= 5 else 'not met'})")

        ours = books[f"-j {args.jobs[0]}"]
        for name, book in books.items():
            if book is ours:
                continue
            differ = [s for s in kinds if not abs(book.get(s, float("nan")) - ours.get(s, float("nan"))) <= 0.01]
            print(f"\nscores, {name} vs -j {args.jobs[0]}: {n - len(differ)}/{n} agree within 0.01")
            for s in differ:
                detail = f"nbgrader parts {autograded(course, s)[0]}" if name == "nbgrader" else ""
                print(f"  {s} ({kinds[s][0]}: {kinds[s][1]}): {name} {book.get(s)}, ours {ours.get(s)}  {detail}")
        if args.keep:
            print(f"\nkept {course}")
    finally:
        if not args.keep:
            shutil.rmtree(course, ignore_errors=True)


if __name__ == "__main__":
    main()
