"""Shared helpers for the kit's tests: copies of the reference, and running `grade`."""
import base64
import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions" / "backprop"
EXERCISES = ROOT / "exercises" / "backprop"
NOTEBOOK = ROOT / "notebooks" / "source" / "backprop" / "backprop.ipynb"
GRADE = [str(Path(sys.executable).parent / "grade")]  # the console script, exactly as students run it


def course_blanks():
    """The kit's assignment's blanks, as course.yaml declares them (name -> child.blanks.Blank)."""
    from grader import config

    return config.load(ROOT / "course.yaml", "backprop").blanks
def junit_xsd():
    """Jenkins xunit's junit-10.xsd, the schema its plugin validates JUnit reports with. pytest
    tests its own JUnit output against the same file, which its source distribution on PyPI
    carries (testing/example_scripts/junit-10.xsd): fetched from there once per machine, for the
    pytest installed, rather than copied into this repository."""
    import tarfile
    import tempfile
    from importlib.metadata import version

    release = version("pytest")
    cache = Path(tempfile.gettempdir()) / "grader-test-schemas" / f"pytest-{release}-junit-10.xsd"
    if cache.is_file():
        return cache
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary",
                               ":all:", f"pytest=={release}", "-d", tmp], capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"could not fetch pytest {release}'s source from PyPI for junit-10.xsd:\n{proc.stderr}")
        [sdist] = Path(tmp).glob("pytest-*.tar.gz")
        with tarfile.open(sdist) as archive:
            schema = archive.extractfile(f"pytest-{release}/testing/example_scripts/junit-10.xsd").read()
    cache.parent.mkdir(parents=True, exist_ok=True)
    part = cache.with_suffix(f".{os.getpid()}.part")
    part.write_bytes(schema)
    os.replace(part, cache)  # whole or absent, for the next session
    return cache


def junit_schema():
    """junit-10.xsd (see junit_xsd), ready to validate with: schema.assertValid(lxml tree)."""
    from lxml import etree

    return etree.XMLSchema(etree.parse(str(junit_xsd())))


def only_parts(tree, parts, assignment="backprop"):
    """course.yaml's tree with the assignment narrowed to these parts and the blanks in them."""
    chosen = tree["assignments"][assignment]
    chosen["parts"] = {k: v for k, v in chosen["parts"].items() if k in parts}
    chosen["blanks"] = {k: v for k, v in chosen["blanks"].items() if v["part"] in parts}
    return tree


def write_course(path, course):
    """Write a course.yaml (text, or a tree to dump) at path, beside a link to the kit's exercises/
    (the public vectors a course's checks compare with sit there, exercises/<id>/vectors.json)."""
    import yaml

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(course if isinstance(course, str) else yaml.safe_dump(course))
    link = path.parent / "exercises"
    if not link.exists():
        link.symlink_to(EXERCISES.parent, target_is_directory=True)
    return path


def copy_of(source, dest):
    dest.mkdir(parents=True, exist_ok=True)
    for path in source.glob("*.py"):
        shutil.copy(path, dest / path.name)
    return dest


def break_line(folder, filename, old, new):
    """Replace one exact line fragment of a submission file; fail loudly if it is absent."""
    path = folder / filename
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} should occur once in {filename}"
    path.write_text(text.replace(old, new))


def report_json(proc):
    """The JSON report a `grade` run printed, or a failure that says why there is none: its exit
    code and the end of its stderr (a bare JSONDecodeError on an empty stdout told nothing)."""
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"`grade` printed no JSON report (exit code {proc.returncode}); stdout begins "
                             f"{proc.stdout[:300]!r}; stderr ends:\n{proc.stderr[-3000:]}") from None


def grade_json(submission, *args, cwd=ROOT):
    """Run `grade check SUBMISSION --format json ARGS`; return (exit code, results, stderr)."""
    proc = subprocess.run([*GRADE, "check", str(submission), "--format", "json", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=300)
    return proc.returncode, report_json(proc), proc.stderr


def notebook_with(cells):
    """The assignment's source notebook with these code cells added at its end, as JSON text."""
    nb = json.loads(NOTEBOOK.read_text())
    nb["cells"] += [{"cell_type": "code", "id": f"extra{i}", "metadata": {}, "source": source, "outputs": [],
                     "execution_count": None} for i, source in enumerate(cells)]
    return json.dumps(nb)


def private_tmp(folder):
    """The environment for a `grade` run whose private copies of submissions (intake's
    grade-submission-...) go under folder, so that student_processes(folder) finds its children
    and no one else's (another grader may be at work on the machine)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "TMPDIR": str(folder)}


def student_processes(under):
    """Live processes running student code of a `grade` run started with private_tmp(under),
    read from /proc: their command lines (bwrap's, the worker's, and every fork of theirs) name
    the private copy of the submission."""
    needle = os.fsencode(str(Path(under)))
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if state != "Z" and needle in cmdline:
            found.append(int(pid))
    return found


NON_ASSIGNMENT = ("Current Score", "Current Points", "Current Grade", "Final Score", "Final Points", "Final Grade",
                  "Override Score", "Override Grade", "Override Status")


def canvas_reads(path):
    """What Canvas's gradebook importer takes from a CSV, by the rules of its source
    (canvas-lms app/models/gradebook_importer.rb): a header whose first cell has "Student" and
    second "ID"; "SIS User ID" then "SIS Login ID" in the third and fourth, so that the fifth,
    the last student column, must be "Section"; assignment columns after it (those named like
    its computed columns are dropped); a row starting "Points Possible"; then the students,
    found by ID, else SIS User ID, else SIS Login ID. Returns ({assignment: points possible},
    {login: {assignment: score or None}}); raises AssertionError where Canvas would refuse."""
    with open(path, newline="", encoding="utf-8") as f:
        header, *rows = list(csv.reader(f))
    assert len(header) > 3 and "Student" in header[0] and "ID" in header[1], f"invalid header row {header}"
    assert re.search(r"SIS\s+User\s+ID", header[2]) and re.search(r"SIS\s+Login\s+ID", header[3]), header
    assert "Section" in header[4], f"invalid header row: the last student column is {header[4]!r}"
    columns = {i: name for i, name in enumerate(header) if i >= 5 and not any(n in name for n in NON_ASSIGNMENT)}
    assert columns, "no assignment column"
    points, students = {}, {}
    for row in rows:
        if "Points Possible" in row[0]:
            points = {name: float(row[i]) for i, name in columns.items() if row[i]}
            continue
        assert row[1] or row[2] or row[3], f"no ID, SIS User ID or SIS Login ID for {row[0]!r}"
        students[row[3]] = {name: float(row[i]) if row[i].strip() not in ("", "-") else None
                            for i, name in columns.items()}
    return points, students


def reporter_view(result):
    """What classroom-resources/autograding-grading-reporter v1 makes of one step's `result`
    (its src/main.js, notify-classroom.js and helpers, read at d13b591): (points it sends
    Classroom, out of, whether it fails the job). Python's float sums are JavaScript's; where
    JavaScript would go on with undefined or NaN, this raises."""
    results = json.loads(base64.b64decode(result, validate=True).decode("utf-8"))  # Buffer.from(v, "base64")
    assert results["version"] == 1 and isinstance(results["tests"], list) and results["tests"]
    assert isinstance(results["max_score"], (int, float)) and results["max_score"] > 0  # else it reports nothing
    total = 0
    for test in results["tests"]:
        assert isinstance(test["name"], str) and test["status"] in ("pass", "fail", "error")
        assert isinstance(test["score"], (int, float)) and not isinstance(test["score"], bool)  # else NaN points
        assert test["line_no"] == 0 or isinstance(test["line_no"], int)  # else "- line undefined"
        assert isinstance(test["message"], str) and isinstance(test["test_code"], str)
        total += test["score"]
    return total, results["max_score"], results["status"] in ("fail", "error")


# -- the student README (tests/test_student_readme.py, test_release.py) --------------------------------
# Markdown read as GitHub reads it: CommonMark, with GFM's tables (markdown-it-py comes with rich)
MARKDOWN = MarkdownIt("commonmark").enable("table")


def tables(text):
    """Each table of the Markdown text as a list of rows, each a list of its cells' text."""
    found, row, cells = [], None, None
    for token in MARKDOWN.parse(text):
        if token.type == "table_open":
            found.append([])
        elif token.type == "tr_open":
            row = []
        elif token.type in ("th_open", "td_open"):
            cells = row
        elif token.type == "inline" and cells is not None:
            cells.append(token.content)
            cells = None
        elif token.type == "tr_close":
            found[-1].append(row)
    return found


def readme_problems(readme, course):
    """What is wrong with a README made for course: each problem a sentence, [] if none."""
    problems = []
    if not readme.startswith(f"# {course.assignment}\n"):
        problems.append(f"the title is not the assignment's name: {readme.splitlines()[0]!r}")
    problems += [f"a placeholder or note left in: {s!r}" for s in ("<!--", "-->", "<id>") if s in readme]
    parts = [t for t in tables(readme) if t and "points" in t[0]]
    rows = [(r[0], r[2]) for r in parts[0][1:]] if len(parts) == 1 else None
    if rows != [(p.title, f"{p.points:g}") for p in course.parts.values()]:
        problems.append(f"the parts table is not the assignment's: {rows}")
    blanks = [t for t in tables(readme) if t and t[0][0] == "blank"]
    if len(blanks) != 1 or [r[0].split("(")[0].strip("`") for r in blanks[0][1:]] != list(course.blanks):
        problems.append("the blanks table is not the assignment's")
    folder = f"exercises/{course.assignment_id}/"
    for path in sorted(set(re.findall(r"exercises/[\w./-]*", readme))):
        if not path.startswith(folder) or not (ROOT / path).exists():
            problems.append(f"names {path}, which the student's repository does not hold")
    total = sum(p.points for p in course.parts.values())
    if f"{course.pass_mark:g} of the {total:g} points" not in readme:
        problems.append("the pass mark is not the assignment's")
    if "--assignment" in readme:
        problems.append("tells the student to name the assignment, which their repository holds alone")
    links = re.findall(r"\]\(([^)]+)\)", readme)
    problems += [f"links {link}, a kit file no student repository holds" for link in links if "://" not in link]
    return problems
