"""A submission is regular files (intake.py): links, devices, FIFOs, hard links from outside,
odd names, oversized folders and notebooks, by themselves, in `grade batch` and in `grade
check` (the Gradescope uploads are in test_gradescope.py). What is graded is only ever the
student's own regular files, and no student stops anyone else's grading."""
import csv
import json
import os
import subprocess
import time

import pytest
from helpers import EXERCISES, GRADE, NOTEBOOK, ROOT, SOLUTIONS, copy_of, notebook_with, report_json

from grader.grading.intake import SubmissionError, take

# -- take(), by itself --------------------------------------------------------------------------------
def test_only_regular_files_of_the_submission_are_copied(tmp_path):
    src = copy_of(EXERCISES, tmp_path / "src")
    (src / "activations.py").unlink()
    (src / "activations.py").symlink_to(SOLUTIONS / "activations.py")  # the reference, on this machine
    (src / "sub").mkdir()
    (src / "sub" / "helper.py").write_text("X = 1\n")
    (src / "linked_dir").symlink_to(SOLUTIONS, target_is_directory=True)
    (src / "zero.py").symlink_to("/dev/zero")
    os.mkfifo(src / "pipe.py")
    outside = tmp_path / "outside.py"
    outside.write_text("SECRET = 1\n")
    os.link(outside, src / "hardlink.py")  # the same file as one outside the folder
    os.link(src / "sub" / "helper.py", src / "twice.py")  # two names, both inside: fine
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "updates.cpython-311.pyc").write_bytes(b"bytecode runs code nobody reads")
    (src / ".git").mkdir()
    (src / ".git" / "config.py").write_text("")
    (src / "notes.txt").write_text("not graded, not copied")
    (src / os.fsdecode(b"caf\xe9.py")).write_text("Y = 2\n")  # latin-1, as git keeps it

    taken = take(src, tmp_path / "copy", 100, 1 << 20)
    copied = {p.relative_to(taken.folder).as_posix() for p in taken.folder.rglob("*") if p.is_file()}
    assert copied == {"backprop.py", "network.py", "softmax_ce.py", "updates.py", "sub/helper.py", "twice.py",
                      os.fsdecode(b"caf\xe9.py")}
    assert not any(p.is_symlink() for p in taken.folder.rglob("*"))
    skipped = "\n".join(taken.skipped)
    for name, why in [("activations.py", "a symbolic link"), ("linked_dir", "a symbolic link"),
                      ("zero.py", "a symbolic link"), ("pipe.py", "not a regular file"),
                      ("hardlink.py", "a hard link to a file outside the submission")]:
        assert f"{name}: {why}" in skipped, skipped
    assert "caf\\xe9.py" not in skipped  # copied, and named printably where it is named
    assert all(oct(p.stat().st_mode)[-3:] == "644" for p in taken.folder.rglob("*.py"))  # the child's uid reads it


def test_a_submission_over_its_limits_is_refused_with_a_reason(tmp_path):
    many = tmp_path / "many"
    many.mkdir()
    for i in range(6):
        (many / f"m{i}.py").write_text("")
    with pytest.raises(SubmissionError, match=r"more than 5 \.py and \.ipynb files \(limits\.submission_files\)"):
        take(many, tmp_path / "c1", 5, 1 << 20)
    big = tmp_path / "big"
    big.mkdir()
    (big / "a.py").write_bytes(b"#" * 700_000)
    (big / "b.py").write_bytes(b"#" * 700_000)
    with pytest.raises(SubmissionError, match=r"b\.py: .* more than 1 MiB \(limits\.submission_mb\)"):
        take(big, tmp_path / "c2", 100, 1 << 20)
    with pytest.raises(SubmissionError, match="not a folder the grader can read"):
        take(big / "a.py", tmp_path / "c3", 100, 1 << 20)
    link = tmp_path / "link"  # the folder named on the command line is the caller's: it may be a link
    link.symlink_to(many)
    assert len(take(link, tmp_path / "c4", 100, 1 << 20).files) == 6


# -- grade batch: every student's trick is that student's problem -------------------------------------
@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    root = tmp_path_factory.mktemp("classroom")
    copy_of(SOLUTIONS, root / "ok")
    (root / "linked").mkdir()  # a repository whose exercises/ is the reference on the grading machine
    (root / "linked" / "exercises").symlink_to(SOLUTIONS, target_is_directory=True)
    (root / "classmate").symlink_to(root / "ok", target_is_directory=True)  # someone else's folder
    devzero = copy_of(EXERCISES, root / "devzero")
    (devzero / "activations.py").unlink()
    (devzero / "activations.py").symlink_to("/dev/zero")  # once read until memory ran out
    odd = copy_of(SOLUTIONS, root / os.fsdecode(b"r\xe9sum\xe9"))  # git keeps any bytes in a name
    (odd / os.fsdecode(b"notes\xff.py")).write_text("# a file with a non-UTF-8 name\n")
    copy_of(SOLUTIONS, root / "gradebook.csv")  # once ended the run with no gradebook
    copy_of(EXERCISES, root / "=HYPERLINK(\"http:evil\",\"x\")")  # once a formula in the spreadsheet
    (root / "notebook" / "backprop").mkdir(parents=True)
    (root / "notebook" / "backprop" / "backprop.ipynb").symlink_to(NOTEBOOK)  # the source notebook: 100 once
    return root


@pytest.fixture(scope="module")
def graded(classroom, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    start = time.monotonic()
    proc = subprocess.run([*GRADE, "batch", str(classroom), "-j", "2", "--hidden", str(ROOT / "hidden" / "backprop" / "vectors.json"),
                           "--out", str(out), "--timeout", "120"], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return out, {row["student"]: row for row in rows}, time.monotonic() - start


@pytest.mark.slow
def test_the_batch_finishes_with_a_gradebook_row_for_everyone(graded):
    out, book, seconds = graded
    assert set(book) == {"ok", "linked", "classmate", "devzero", "r\\xe9sum\\xe9", "gradebook.csv",
                         "'=HYPERLINK(\"http:evil\",\"x\")", "notebook"}
    assert float(book["ok"]["total"]) == 100 and float(book["gradebook.csv"]["total"]) == 100
    assert float(book["r\\xe9sum\\xe9"]["total"]) == 100  # its odd file is copied too, and harmless
    assert (out / "students" / "gradebook.csv" / "results.json").is_file()
    assert seconds < 120


@pytest.mark.slow
def test_links_earn_nothing(graded):
    _, book, _ = graded
    for student in ("linked", "classmate", "notebook"):
        assert float(book[student]["total"]) == 0, book[student]
    assert book["classmate"]["status"] == "error" and "symbolic link" in book["classmate"]["message"]
    assert "exercises: a symbolic link" in book["linked"]["message"]
    assert "backprop/backprop.ipynb: a symbolic link" in book["notebook"]["message"]


@pytest.mark.slow
def test_a_link_to_dev_zero_is_left_out_and_named(graded):
    out, book, _ = graded
    assert book["devzero"]["status"] == "graded" and float(book["devzero"]["total"]) == 0
    report = (out / "students" / "devzero" / "report.txt").read_text()
    assert "not graded: activations.py: a symbolic link" in report


@pytest.mark.slow
def test_no_cell_is_a_formula(graded):
    out, _, _ = graded
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as f:
        cells = [cell for row in csv.reader(f) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'=HYPERLINK(\"http:evil\",\"x\")" in cells  # quoted, as OWASP advises, not dropped


# -- notebooks ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_huge_notebook_cell_is_parsed_in_a_bounded_child(tmp_path):
    """An 8 MB cell once cost the grader 3.9 GB and 24 s: it is now read by a child with the
    course's memory limit, and the grader's own memory does not grow."""
    import resource

    from grader import config
    from grader.grading import intake

    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "backprop.ipynb").write_text(notebook_with(["X = [" + "1, " * 2_700_000 + "]"]))
    assert (folder / "backprop.ipynb").stat().st_size > 8_000_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    prepared = intake.prepare(folder, tmp_path / "work", config.load(ROOT / "course.yaml", "backprop"))
    assert time.monotonic() - start < 60
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before  # KiB
    assert grown < 100_000, f"the grader's memory grew by {grown} KiB"
    module = (prepared.folder / "from_notebook.py").read_text()
    assert "def backward(" in module  # the rest of the notebook is there to grade


@pytest.mark.slow
def test_grade_check_says_what_it_left_out(tmp_path):
    folder = copy_of(SOLUTIONS, tmp_path / "sub")
    (folder / "updates.py").unlink()
    (folder / "updates.py").symlink_to(SOLUTIONS / "updates.py")
    proc = subprocess.run([*GRADE, "check", str(folder), "--part", "updates", "--format", "json",
                           "--report-dir", str(tmp_path / "r")], capture_output=True, text=True, cwd=ROOT, timeout=300)
    results = report_json(proc)
    assert proc.returncode == 1 and results["score"] == 0
    assert "not graded: updates.py: a symbolic link (only regular files are graded)" in results["output"]


@pytest.mark.slow
def test_a_file_name_can_neither_start_a_line_nor_move_the_cursor(tmp_path):
    """Names of files left out went into the report as they were: a newline in one started a
    workflow command in a CI log and a row in the Markdown summary, an ESC moved the terminal's
    cursor (red team). Names are shown with control characters escaped."""
    folder = copy_of(SOLUTIONS, tmp_path / "sub")
    forged = "x\n::error title=Autograder::score 100 of 100\n| **total** | **100 of 100** | | |\n"
    (folder / forged).symlink_to("/etc/hostname")
    (folder / "\x1b[2K\x1b[32mall 100 points\x1b[0m").symlink_to("/etc/hostname")
    summary = tmp_path / "summary.md"
    proc = subprocess.run([*GRADE, "check", str(folder), "--part", "updates", "--format", "github",
                           "--report-dir", str(tmp_path / "r")], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "GITHUB_STEP_SUMMARY": str(summary)})
    assert proc.returncode == 0, proc.stderr
    shown = proc.stdout + proc.stderr
    assert "not graded: x\\x0a::error title=Autograder::score 100 of 100\\x0a" in shown  # said, harmlessly
    assert not [line for line in shown.splitlines() if line.startswith("::")]  # all checks pass: no annotation
    assert "\x1b" not in shown and "\\x1b[2K" in shown
    rows = [line for line in summary.read_text().splitlines() if line.startswith("| **total**")]
    assert rows == ["| **total** | **15.00 / 15.00** | | |"]  # the real one only: the forged one is quoted text
