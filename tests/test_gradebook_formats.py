"""The batch's gradebooks: one number format everywhere, and the CSV Canvas's gradebook import
reads, checked with the rules of Canvas's own importer (canvas-lms, GradebookImporter), which
a plain gradebook fails (test the tester)."""
import csv
import re

import pytest

from grader.platforms.batch import write_canvas, write_gradebook
from grader.config import load
from grader.reports.formats import fmt
from helpers import ROOT, canvas_reads

COURSE = load(ROOT / "course.yaml", "backprop")
ROWS = [
    {"student": "ada", "total": 100.0, "parts": {p: COURSE.parts[p].points for p in COURSE.parts},
     "status": "graded", "seconds": 3.2, "message": ""},
    {"student": "grace", "total": 13.42 + 20, "parts": {"activations": 13.42, "softmax_ce": 20.0},
     "status": "graded", "seconds": 2.0, "message": ""},
    {"student": "=cmd", "total": 14.999999999999998, "parts": {"activations": 14.999999999999998},
     "status": "graded", "seconds": 1.0, "message": ""},
    {"student": "hang", "total": 0.0, "parts": {}, "status": "timeout", "seconds": 20.0,
     "message": "grading took longer than 20 s"},
]
def test_scores_have_one_format():
    assert [fmt(x) for x in (20, 15.0, 14.999999999999998, 13.42, 0.0, -1e-12, 1 / 3)] == \
           ["20.00", "15.00", "15.00", "13.42", "0.00", "0.00", "0.33"]


def test_plain_gradebook_has_two_decimals_in_every_score(tmp_path):
    write_gradebook(tmp_path / "gradebook.csv", ROWS, COURSE)
    with open(tmp_path / "gradebook.csv", newline="") as f:
        book = list(csv.DictReader(f))
    scores = [row[key] for row in book for key in ("total", *COURSE.parts)]
    assert scores and all(re.fullmatch(r"\d+\.\d\d", s) for s in scores), scores
    assert book[2]["student"] == "'=cmd" and book[2]["total"] == "15.00"  # no formula, no 14.999...


def test_canvas_import_reads_every_graded_student(tmp_path):
    empty = write_canvas(tmp_path / "canvas.csv", ROWS, COURSE)
    points, students = canvas_reads(tmp_path / "canvas.csv")
    assert points == {COURSE.assignment: 100.0}  # named from course.yaml, its points from the parts
    assert students["ada"] == {COURSE.assignment: 100.0}
    assert students["grace"] == {COURSE.assignment: pytest.approx(33.42)}
    assert students["hang"] == {COURSE.assignment: None} and empty == 1  # not graded: left as it was
    assert "'=cmd" in students  # a name a spreadsheet would run is quoted here too
    with open(tmp_path / "canvas.csv", newline="") as f:
        header, possible = list(csv.reader(f))[:2]
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", COURSE.assignment]
    assert possible == ["Points Possible", "", "", "", "", "100.00"]


def test_canvas_rules_reject_what_canvas_would(tmp_path):
    """Test the tester: the plain gradebook, and a Canvas file without Section or without any
    student identifier, are refused by canvas_reads, as Canvas's importer refuses them."""
    write_gradebook(tmp_path / "plain.csv", ROWS, COURSE)
    with pytest.raises(AssertionError, match="invalid header row"):
        canvas_reads(tmp_path / "plain.csv")
    write_canvas(tmp_path / "canvas.csv", ROWS, COURSE)
    lines = (tmp_path / "canvas.csv").read_text().splitlines()
    (tmp_path / "no-section.csv").write_text("\n".join([lines[0].replace("Section", "Group"), *lines[1:]]) + "\n")
    with pytest.raises(AssertionError, match="last student column"):
        canvas_reads(tmp_path / "no-section.csv")
    (tmp_path / "no-login.csv").write_text("\n".join([*lines[:2], ",,,,,5.00"]) + "\n")
    with pytest.raises(AssertionError, match="no ID, SIS User ID or SIS Login ID"):
        canvas_reads(tmp_path / "no-login.csv")
