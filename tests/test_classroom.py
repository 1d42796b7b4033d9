"""`grade check --format classroom`, and `--format github`'s step output: GitHub Classroom's
test result, as its grading reporter reads it (see tests/helpers.reporter_view): one entry per
check with its own points, the course's total, and the run's verdict as the status."""
import base64
import json
import os
import subprocess

import pytest
import yaml

from helpers import GRADE, ROOT, SOLUTIONS, copy_of, report_json, reporter_view, write_course, only_parts
from grader.grading.plugin import Result
from grader.reports.formats import classroom, classroom_output


def course_with(tmp_path, pass_mark):
    """course.yaml with two parts (30 points) and this pass mark."""
    tree = yaml.safe_load((ROOT / "course.yaml").read_text())
    only_parts(tree, ("activations", "updates"))
    tree["assignments"]["backprop"]["pass_mark"] = pass_mark
    tree["training"]["reference"] = str(SOLUTIONS.parent)
    path = write_course(tmp_path / f"course-{pass_mark}.yaml", tree)
    return path


def grade(sub, tmp_path, *args, env=None):
    return subprocess.run([*GRADE, "check", str(sub), "--report-dir", str(tmp_path / "report"), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=300, env=env)


@pytest.fixture(scope="module")
def wrong_and_crashing(tmp_path_factory):
    """The reference with a wrong relu and a sigmoid_prime that kills its process, graded on two
    parts as classroom and as Gradescope JSON: passes, failures and errors."""
    tmp = tmp_path_factory.mktemp("classroom")
    sub = copy_of(SOLUTIONS, tmp / "sub")
    with open(sub / "activations.py", "a") as f:
        f.write("\n\ndef relu(z):\n    return z\n\n\ndef sigmoid_prime(z):\n    import os\n    os._exit(0)\n")
    course = course_with(tmp, 0)
    proc = grade(sub, tmp, "--format", "classroom", "--course", str(course), "--results-json", str(tmp / "gs.json"))
    return {"sub": sub, "tmp": tmp, "proc": proc, "gradescope": json.loads((tmp / "gs.json").read_text())}


@pytest.mark.slow
def test_classroom_json_is_one_entry_per_check_with_its_points(wrong_and_crashing):
    proc, gradescope = wrong_and_crashing["proc"], wrong_and_crashing["gradescope"]
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    result = report_json(proc)  # nothing but the JSON on stdout
    assert result["version"] == 1 and result["max_score"] == 30  # the two parts' points
    statuses = {"passed": "pass", "failed": "fail", "error": "error"}
    assert [(t["name"], statuses[t["extra_data"]["status"]], t["score"], t["max_score"]) for t in gradescope["tests"]] \
        == [(t["name"], t["status"], t["score"], t["max_score"]) for t in result["tests"]]
    assert {t["status"] for t in result["tests"]} == {"pass", "fail", "error"}
    assert sum(t["max_score"] for t in result["tests"]) == 30
    # what the reporter sends Classroom: the Gradescope score, out of 30; all must pass to be green
    encoded = classroom_output(result)
    assert "\n" not in encoded and json.loads(base64.b64decode(encoded)) == result
    assert reporter_view(encoded) == (gradescope["score"], 30, True)
    assert 0 < gradescope["score"] < 30
    # a check that did not pass says how to run it alone; one that passed prints nothing more
    failed = next(t for t in result["tests"] if t["name"].endswith("relu matches the reference"))
    assert failed["test_code"] == "grade check -k test_blank[relu-values]" and failed["line_no"] == 0
    assert all(t["test_code"] == "" for t in result["tests"] if t["status"] == "pass")


@pytest.mark.slow
def test_status_is_the_pass_mark_verdict_as_the_exit_code(wrong_and_crashing):
    sub, tmp, score = wrong_and_crashing["sub"], wrong_and_crashing["tmp"], wrong_and_crashing["gradescope"]["score"]
    for mark, status in ((score, "pass"), (score + 0.5, "fail")):
        proc = grade(sub, tmp, "--format", "classroom", "--pass-mark", "--course", str(course_with(tmp, mark)))
        result = report_json(proc)
        assert (result["status"], proc.returncode) == (status, 0 if status == "pass" else 1)
        assert reporter_view(classroom_output(result))[2] is (status == "fail")


@pytest.mark.slow
def test_github_format_sets_the_step_output_the_reporter_reads(wrong_and_crashing):
    sub, tmp = wrong_and_crashing["sub"], wrong_and_crashing["tmp"]
    outputs = tmp / "github_output"
    outputs.write_text("earlier=1\n")
    proc = grade(sub, tmp, "--format", "github", "--course", str(course_with(tmp, 0)),
                 env={**os.environ, "GITHUB_OUTPUT": str(outputs)})
    assert proc.returncode == 1 and proc.stdout.startswith("::error ")
    lines = outputs.read_text().splitlines()
    assert lines[0] == "earlier=1" and len(lines) == 2 and lines[1].startswith("result=")  # appended, one line
    from_github = json.loads(base64.b64decode(lines[1].removeprefix("result=")))
    alone = json.loads(wrong_and_crashing["proc"].stdout)
    for result in (from_github, alone):
        for test in result["tests"]:
            del test["duration"]  # the one thing two runs differ in
    assert from_github == alone


def test_student_text_reaches_the_log_as_text_not_workflow_commands():
    """The reporter echoes names, messages and test code into the CI log, where a line that
    starts with "::" is a command (e.g. ::add-mask::, ::error::)."""
    r = Result("grader/checks/test_blanks.py::test_blank[relu-values]", "Activation functions: relu", "activations",
               1.0, passed=False, error=True, output="boom\n::error title=fake::you pass\n  ::add-mask::x")
    r.max_score = 1.0
    [test] = classroom([r])["tests"]
    assert not [line for line in test["message"].splitlines() if line.lstrip().startswith("::")]
    assert "you pass" in test["message"] and test["status"] == "error"
    # test the tester: the raw output has such lines
    assert [line for line in r.output.splitlines() if line.lstrip().startswith("::")]


def test_reporter_view_rejects_what_the_reporter_could_not_use(wrong_and_crashing):
    """The checker of the reporter's expectations fails what would give Classroom NaN points,
    nothing, or the wrong verdict."""
    good = json.loads(wrong_and_crashing["proc"].stdout)
    gradescope = wrong_and_crashing["gradescope"]
    no_score = json.loads(json.dumps(good))
    del no_score["tests"][0]["score"]
    no_max = {**good, "max_score": 0}
    for broken in (gradescope, no_score, no_max):
        with pytest.raises((AssertionError, KeyError)):
            reporter_view(classroom_output(broken))
    with pytest.raises(ValueError):
        reporter_view("not base64!")
