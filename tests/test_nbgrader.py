"""The real nbgrader round trip on the notebook `grade generate` writes: generate_assignment,
autograde of three submissions (the reference, plus harmless warnings and stderr output; the
stubs; a partly wrong one), export. Each score, part by part, agrees with `grade check` on the
same code, and `grade batch` reads nbgrader's submitted/ folder to the same gradebook."""
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from helpers import GRADE, ROOT, write_course

from grader import config

SOURCE = ROOT / "notebooks" / "source" / "backprop" / "backprop.ipynb"
BIN = Path(sys.executable).parent
PARTS = ("activations", "softmax_ce", "backprop", "updates", "mnist")


HIDDEN = ROOT / "hidden" / "backprop" / "vectors.json"


def nbgrader(course_dir, *args):
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",  # it runs alembic from PATH
           "GRADE_HIDDEN": str(HIDDEN)}  # official grading: the test cells add the hidden checks
    proc = subprocess.run([str(BIN / "nbgrader"), *args], capture_output=True, text=True, cwd=course_dir, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def submission(release, source, edits):
    """The release notebook with each solution cell filled from the source, then edited."""
    by_id = {c["id"]: c for c in source["cells"]}
    notebook = json.loads(json.dumps(release))
    for cell in notebook["cells"]:
        if cell["metadata"]["nbgrader"].get("solution"):
            text = "".join(by_id[cell["id"]]["source"])
            for old, new in edits.get(cell["id"], []):
                assert old in text, (cell["id"], old)
                text = text.replace(old, new)
            cell["source"] = text
    return notebook


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("nbgrader-course")
    text = (ROOT / "course.yaml").read_text()
    write_course(root / "course.yaml", text.replace("reference: solutions", f"reference: {ROOT / 'solutions'}"))
    (root / "nbgrader_config.py").write_text(f'c = get_config()\nc.CourseDirectory.course_id = "backprop-course"\n'
                                             f'c.CourseDirectory.root = {str(root)!r}\n'
                                             'c.Execute.timeout = 300\n')
    (root / "source" / "backprop").mkdir(parents=True)
    shutil.copy(SOURCE, root / "source" / "backprop")
    nbgrader(root, "generate_assignment", "backprop", "--force")
    release = json.loads((root / "release" / "backprop" / "backprop.ipynb").read_text())
    source = json.loads(SOURCE.read_text())
    students = {
        "alice": submission(release, source, {"activations-relu": [(
            "    ### BEGIN SOLUTION", "    import sys, warnings\n    warnings.warn('harmless', RuntimeWarning)\n"
            "    print('debugging relu', file=sys.stderr)\n    ### BEGIN SOLUTION")]}),
        "bob": release,
        "carol": submission(release, source, {"updates-layer_gradients": [("keepdims=True)", "keepdims=True) / 2")],
                                              "activations-sigmoid_prime": [("s * (1 - s)", "s")]}),
    }
    for name, notebook in students.items():
        folder = root / "submitted" / name / "backprop"
        folder.mkdir(parents=True)
        (folder / "backprop.ipynb").write_text(json.dumps(notebook))
    nbgrader(root, "autograde", "backprop", "--force")
    nbgrader(root, "export")
    return root


def nbgrader_scores(course_dir):
    with open(course_dir / "grades.csv") as f:
        totals = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    parts = {}
    for student in totals:
        notebook = json.loads((course_dir / "autograded" / student / "backprop" / "backprop.ipynb").read_text())
        parts[student] = {}
        for cell in notebook["cells"]:
            if cell["id"].startswith("check-"):
                results = [o for o in cell["outputs"] if o["output_type"] == "execute_result"]
                errors = [o for o in cell["outputs"] if o["output_type"] == "error" or o.get("name") == "stderr"]
                parts[student][cell["id"][6:]] = 0.0 if errors else float("".join(results[0]["data"]["text/plain"]))
    return totals, parts


def test_source_notebook_is_nbgrader_source_format():
    notebook = nbformat.read(SOURCE, as_version=4)  # each source one string (the file holds lists of lines)
    metas = [c["metadata"]["nbgrader"] for c in notebook["cells"]]
    assert len({m["grade_id"] for m in metas}) == len(metas)
    assert all(m["schema_version"] == 3 for m in metas)
    tests = [m for m in metas if m["grade"]]
    course = config.load(ROOT / "course.yaml", "backprop")
    assert {m["grade_id"]: m["points"] for m in tests} == {f"check-{p.id}": p.points for p in course.parts.values()}
    assert all(m["locked"] and not m["solution"] for m in tests)
    solutions = [c for c in notebook["cells"] if c["metadata"]["nbgrader"]["solution"]]
    assert len(solutions) == 11 and all("### BEGIN SOLUTION" in c["source"] for c in solutions)


@pytest.mark.slow
def test_release_notebook_has_stubs_not_solutions(course_dir):
    release = (course_dir / "release" / "backprop" / "backprop.ipynb").read_text()
    assert "### BEGIN SOLUTION" not in release and "np.maximum(z, 0)" not in release
    assert release.count("raise NotImplementedError()") == 11


@pytest.mark.slow
def test_scores_full_zero_and_partial(course_dir):
    totals, parts = nbgrader_scores(course_dir)
    assert totals["alice"] == 100  # stderr and a RuntimeWarning in student code cost nothing
    assert totals["bob"] == 0
    assert 0 < totals["carol"] < 100 and parts["carol"]["softmax_ce"] == 20 and parts["carol"]["updates"] < 15
    graded = (course_dir / "autograded" / "carol" / "backprop" / "backprop.ipynb").read_text()
    assert "layer_gradients' dW on hidden inputs" in graded  # GRADE_HIDDEN reached the test cells


@pytest.mark.slow
def test_nbgrader_agrees_with_grade_check_part_by_part(course_dir, tmp_path):
    """grade batch grades nbgrader's submitted/ notebooks itself; same totals and parts."""
    out = tmp_path / "batch"
    proc = subprocess.run([*GRADE, "batch", str(course_dir), "-j", "2", "--out", str(out), "--course",
                           str(course_dir / "course.yaml"), "--hidden", str(HIDDEN)], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
    with open(out / "gradebook.csv") as f:
        ours = {row["student"]: row for row in csv.DictReader(f)}
    totals, parts = nbgrader_scores(course_dir)
    assert set(ours) == set(totals) == {"alice", "bob", "carol"}
    for student, total in totals.items():
        assert ours[student]["status"] == "graded"
        assert float(ours[student]["total"]) == pytest.approx(total, abs=0.01), student
        for part in PARTS:
            assert float(ours[student][part]) == pytest.approx(parts[student][part], abs=0.01), (student, part)
