"""`grade batch`: every layout found, graded in parallel into a gradebook; a crashing, hanging
or empty submission never stops the rest; a second run skips what is unchanged."""
import csv
import json
import os
import shutil
import subprocess
import time

import pytest
from helpers import EXERCISES, GRADE, ROOT, SOLUTIONS, canvas_reads, copy_of, private_tmp, student_processes, write_course

pytestmark = pytest.mark.slow  # every test grades a classroom with `grade batch` (4-29 s each)


def gradebook(out):
    with open(out / "gradebook.csv") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def run_batch(folder, out, *args):
    """grade batch, its private copies under TMP beside folder (see helpers.private_tmp)."""
    proc = subprocess.run([*GRADE, "batch", str(folder), "--out", str(out), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600, env=private_tmp(folder.parent / "tmp"))
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    """A folder of student folders in every layout, and a few that go wrong."""
    root = tmp_path_factory.mktemp("submissions")
    copy_of(SOLUTIONS, root / "ada")  # the .py files at the top
    copy_of(SOLUTIONS, root / "backprop-grace" / "exercises" / "backprop")  # a cloned GitHub Classroom repo
    (root / "backprop-grace" / "README.md").write_text("a repo")
    copy_of(EXERCISES, root / "stubs")
    hang = copy_of(SOLUTIONS, root / "hang")
    with open(hang / "activations.py", "a") as f:
        f.write("\nwhile True:\n    pass\n")
    crash = copy_of(SOLUTIONS, root / "crash")
    with open(crash / "softmax_ce.py", "a") as f:
        f.write("\nimport os\nos._exit(3)\n")
    (root / "empty").mkdir()
    (root / "empty" / "notes.txt").write_text("nothing to grade")
    return root


@pytest.fixture(scope="module")
def first_run(classroom, tmp_path_factory):
    out = tmp_path_factory.mktemp("batch-out")
    start = time.monotonic()
    proc = run_batch(classroom, out, "-j", "2", "--timeout", "20", "--format", "canvas")
    return out, proc, time.monotonic() - start


def test_every_layout_graded_and_every_failure_named(first_run):
    out, proc, _ = first_run
    book = gradebook(out)
    assert list(book) == ["ada", "backprop-grace", "crash", "empty", "hang", "stubs"]
    assert list(next(iter(book.values()))) == ["student", "total", "activations", "softmax_ce", "backprop", "updates",
                                               "mnist", "status", "seconds", "message"]
    for student in ("ada", "backprop-grace"):
        assert book[student]["status"] == "graded" and float(book[student]["total"]) == 100
        assert float(book[student]["mnist"]) == 25
    assert book["stubs"]["status"] == "graded" and float(book["stubs"]["total"]) == 0
    # the crashing module costs its own part's checks, which are errors, not the batch
    assert book["crash"]["status"] == "graded" and float(book["crash"]["softmax_ce"]) == 0
    assert float(book["crash"]["activations"]) == 15
    assert book["empty"]["status"] == "error" and "no activations.py" in book["empty"]["message"]
    assert book["hang"]["status"] == "timeout" and "longer than 20 s" in book["hang"]["message"]
    assert "6 submissions" in proc.stdout and "1 timeout" in proc.stdout and "1 error" in proc.stdout


def test_each_student_gets_a_report_and_results_json(first_run):
    out, _, _ = first_run
    for student in ("ada", "backprop-grace", "stubs", "crash"):
        results = json.loads((out / "students" / student / "results.json").read_text())
        assert {"score", "execution_time", "output", "tests"} <= set(results)
        report = (out / "students" / student / "report.txt").read_text()
        assert f"{results['score']:.2f} / 100.00 " in report, report
    assert not (out / "students" / "ada" / "confusion_matrix.png").exists()  # plots only with --plots
    assert "not graded" in (out / "students" / "empty" / "report.txt").read_text()
    assert not (out / "students" / "hang" / "results.json").exists()  # stopped: not marked graded


def test_report_folder_holds_the_reports_and_nothing_else(first_run):
    """No lock file (the hidden checks' lock has no name), no half-written .tmp file."""
    out, _, _ = first_run
    assert sorted(p.name for p in out.iterdir()) == ["canvas.csv", "gradebook.csv", "students"]
    assert [p for p in out.rglob(".*")] == []


def test_canvas_gradebook_has_the_same_scores(first_run):
    out, proc, _ = first_run
    book = gradebook(out)
    points, students = canvas_reads(out / "canvas.csv")  # Canvas's importer's rules
    assignment = next(iter(points))
    assert points == {assignment: 100.0} and set(students) == set(book)
    for student, row in book.items():
        assert students[student][assignment] == (float(row["total"]) if row["status"] == "graded" else None)
    assert f"Canvas import: {out / 'canvas.csv'} (2 not graded, left empty" in proc.stdout


def test_no_process_of_a_stopped_submission_survives(first_run, classroom):
    deadline = time.monotonic() + 5  # a killed process may take a moment to be reaped
    while student_processes(classroom.parent / "tmp") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert student_processes(classroom.parent / "tmp") == []


def test_stopped_worker_leaves_no_child_even_without_isolation(classroom, tmp_path):
    """Without bubblewrap nothing ties the sandbox's child to the worker: the worker kills it."""
    course = tmp_path / "course.yaml"
    write_course(course, (ROOT / "course.yaml").read_text().replace("isolation: auto", "isolation: off"))
    one = tmp_path / "one"
    shutil.copytree(classroom / "hang", one / "hang")
    run_batch(one, tmp_path / "out", "-j", "1", "--timeout", "3", "--course", str(course))
    time.sleep(0.5)
    assert student_processes(one.parent / "tmp") == []


def test_second_run_skips_unchanged_and_regrades_changed_or_forced(first_run, classroom):
    out, _, _ = first_run
    before = gradebook(out)
    shutil.rmtree(classroom / "hang")  # a timeout is graded again on every run; spare the time
    again = run_batch(classroom, out, "-j", "2", "--timeout", "20")
    assert "4 unchanged since their last grading" in again.stdout  # all but empty
    assert gradebook(out)["ada"]["total"] == before["ada"]["total"]
    with open(classroom / "stubs" / "activations.py", "a") as f:  # stubs now gets relu right
        f.write("\n\ndef relu(z):\n    return np.maximum(z, 0)\n")
    changed = run_batch(classroom, out, "-j", "2", "--timeout", "20")
    assert "3 unchanged" in changed.stdout
    assert 0 < float(gradebook(out)["stubs"]["activations"]) < 15
    forced = run_batch(classroom, out, "-j", "2", "--timeout", "20", "--force")
    assert "unchanged" not in forced.stdout


def test_plots_on_request(tmp_path):
    copy_of(SOLUTIONS, tmp_path / "in" / "ada")
    run_batch(tmp_path / "in", tmp_path / "out", "-j", "1", "--plots")
    assert (tmp_path / "out" / "students" / "ada" / "confusion_matrix.png").stat().st_size > 1000
    assert gradebook(tmp_path / "out")["ada"]["total"] == "100.00"
