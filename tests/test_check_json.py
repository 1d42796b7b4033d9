"""`grade check`'s reports: Gradescope's results.json schema, --output, blanks, the full MNIST
run with its plots, determinism, and the text table."""
import json
import os
import re
import subprocess

import pytest
import yaml

from helpers import EXERCISES, ROOT, SOLUTIONS, copy_of, grade_json, junit_schema, report_json, write_course, only_parts
from helpers import GRADE as GRADE_COMMAND

GRADE = GRADE_COMMAND[0]
COURSE = yaml.safe_load((ROOT / "course.yaml").read_text())
POINTS = {pid: spec["points"] for pid, spec in COURSE["assignments"]["backprop"]["parts"].items()}
PNG = b"\x89PNG\r\n\x1a\n"


def grade(sub, *args, fmt="json", report_dir, timeout=300):
    cmd = [str(GRADE), "check", str(sub), "--format", fmt, "--report-dir", str(report_dir), *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout)


def assert_gradescope_schema(results):
    assert set(results) >= {"score", "execution_time", "output", "tests"}
    assert isinstance(results["score"], (int, float)) and not isinstance(results["score"], bool)
    assert isinstance(results["execution_time"], (int, float)) and results["execution_time"] >= 0
    assert isinstance(results["output"], str)
    assert isinstance(results["tests"], list) and results["tests"]
    for t in results["tests"]:
        assert isinstance(t["name"], str) and t["name"]
        assert isinstance(t["score"], (int, float)) and isinstance(t["max_score"], (int, float))
        assert 0 <= t["score"] <= t["max_score"]
        assert t["status"] in {"passed", "failed"}
        assert isinstance(t["output"], str)
        assert t["visibility"] in {"hidden", "after_due_date", "after_published", "visible"}
        assert t["score"] == (t["max_score"] if t["status"] == "passed" else 0)
    # exactly what the tests add up to, and each part's maxima to its points (no separate rounding)
    assert results["score"] == round(sum(t["score"] for t in results["tests"]), 4)
    assert results["output_format"] == "text"
    for part, total in part_max_scores(results).items():
        assert total == POINTS[part], (part, total)


def part_max_scores(results):
    sums = {}
    for t in results["tests"]:
        sums[t["extra_data"]["part"]] = sums.get(t["extra_data"]["part"], 0) + t["max_score"]
    return {part: round(total, 4) for part, total in sums.items()}  # 4-decimal maxima, summed in floats


@pytest.fixture(scope="module")
def solutions_two_parts(tmp_path_factory):
    return grade(SOLUTIONS, "--part", "activations", "--part", "updates",
                 report_dir=tmp_path_factory.mktemp("r"))


# -- 1. the schema, and nothing but JSON on stdout ------------------------------------------------
@pytest.mark.slow
def test_json_is_all_of_stdout_and_matches_gradescope(solutions_two_parts):
    proc = solutions_two_parts
    assert proc.returncode == 0, proc.stderr
    results = report_json(proc)  # the whole of stdout: any stray byte would break this
    assert proc.stdout.startswith("{") and proc.stdout.rstrip().endswith("}")
    assert_gradescope_schema(results)
    assert part_max_scores(results) == {"activations": POINTS["activations"], "updates": POINTS["updates"]}
    assert all(t["status"] == "passed" for t in results["tests"])
    assert results["score"] == POINTS["activations"] + POINTS["updates"] == 30
    assert len(results["tests"]) == 13
    assert [t["extra_data"]["part"] for t in results["tests"]] == ["activations"] * 8 + ["updates"] * 5
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_schema_checker_rejects_broken_reports(solutions_two_parts):
    """The schema assertions above can fail: they catch a wrong total and a bad status."""
    good = json.loads(solutions_two_parts.stdout)
    wrong_total = {**good, "score": good["score"] + 1}
    bad_status = {**good, "tests": [{**good["tests"][0], "status": "ok"}, *good["tests"][1:]]}
    over = {**good, "tests": [{**good["tests"][0], "score": good["tests"][0]["max_score"] + 1}, *good["tests"][1:]]}
    for broken in (wrong_total, bad_status, over):
        with pytest.raises(AssertionError):
            assert_gradescope_schema(broken)


# -- 2. --output ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_output_file_gets_the_json_and_stdout_gets_none(tmp_path, solutions_two_parts):
    out = tmp_path / "results.json"
    proc = grade(SOLUTIONS, "--part", "activations", "--part", "updates", "--output", str(out),
                 report_dir=tmp_path / "r")
    assert proc.returncode == 0, proc.stderr
    assert "{" not in proc.stdout and '"score"' not in proc.stdout
    written = json.loads(out.read_text(encoding="utf-8"))
    assert_gradescope_schema(written)
    expected = json.loads(solutions_two_parts.stdout)
    strip_timings(written), strip_timings(expected)
    assert written == expected


# -- 3. the blank exercises ------------------------------------------------------------------------
@pytest.mark.slow
def test_blank_exercises_fail_cleanly(tmp_path):
    proc = grade(EXERCISES, "--part", "softmax_ce", report_dir=tmp_path / "r")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout and "Traceback" not in proc.stderr
    results = report_json(proc)
    assert_gradescope_schema(results)
    assert results["score"] == 0
    assert len(results["tests"]) == 7
    assert part_max_scores(results) == {"softmax_ce": POINTS["softmax_ce"]}
    for t in results["tests"]:
        assert t["status"] == "failed" and t["score"] == 0, t["name"]
        assert "not implemented yet" in t["output"], t["output"]
        assert "grader error" not in t["output"]


# -- 4. the whole assignment, with MNIST -----------------------------------------------------------
@pytest.mark.slow
def test_full_run_on_solutions_scores_100_and_writes_plots(tmp_path):
    report = tmp_path / "report"
    proc = grade(SOLUTIONS, report_dir=report)
    assert proc.returncode == 0, proc.stderr
    results = report_json(proc)
    assert_gradescope_schema(results)
    assert results["score"] == 100
    assert part_max_scores(results) == POINTS
    mnist = [t for t in results["tests"] if t["extra_data"]["part"] == "mnist"]
    assert len(mnist) == 1 and mnist[0]["status"] == "passed" and mnist[0]["score"] == 25
    match = re.search(r"test accuracy (0\.\d{4})", mnist[0]["output"])
    assert match, mnist[0]["output"]
    assert "test accuracy 0.9" in mnist[0]["output"]
    assert float(match.group(1)) >= COURSE["thresholds"]["mnist_accuracy"]
    assert f"feedback page: {report}/report.html" in proc.stderr  # stdout holds only the JSON
    assert "MNIST: trained in" in results["output"]
    for name in ("loss_curves.png", "accuracy_curves.png", "confusion_matrix.png", "per_digit_accuracy.png"):
        data = (report / name).read_bytes()
        assert len(data) > 1000 and data.startswith(PNG), name
        assert name.removesuffix(".png") not in results["output"]  # drawn after the verdict, not in it


# -- 5. determinism ----------------------------------------------------------------------------------
def strip_timings(results):
    results.pop("execution_time")
    for t in results["tests"]:
        t["extra_data"].pop("seconds")
    return results


@pytest.mark.slow
def test_two_runs_give_identical_results(tmp_path):
    runs = [grade(SOLUTIONS, "--part", "backprop", report_dir=tmp_path / "r") for _ in range(2)]
    assert [p.returncode for p in runs] == [0, 0], runs[0].stderr
    first, second = (strip_timings(json.loads(p.stdout)) for p in runs)
    assert first == second
    assert first["score"] == POINTS["backprop"] and len(first["tests"]) == 6


@pytest.mark.slow
def test_two_runs_of_a_wrong_submission_give_identical_messages(tmp_path):
    """A failing run is deterministic too: the same wrong number at the same index."""
    sub = copy_of(SOLUTIONS, tmp_path / "sub")
    with open(sub / "backprop.py", "a") as f:
        f.write("\n\ndef hidden_delta(W_next, delta_next, z):\n    return 1.5 * (W_next.T @ delta_next) * relu_prime(z)\n")
    runs = [grade(sub, "--part", "backprop", report_dir=tmp_path / "r") for _ in range(2)]
    assert [p.returncode for p in runs] == [1, 1]
    first, second = (strip_timings(json.loads(p.stdout)) for p in runs)
    assert first == second
    failed = [t for t in first["tests"] if t["status"] == "failed"]
    assert failed and all("relative error" in t["output"] or "times the expected" in t["output"]
                          or "counts once backward matches" in t["output"] for t in failed)


# -- 6. the text table --------------------------------------------------------------------------------
@pytest.mark.slow
def test_text_report_on_blank_exercises(tmp_path):
    proc = grade(EXERCISES, "--part", "activations", fmt="text", report_dir=tmp_path / "r")
    assert proc.returncode == 1
    assert "0.00 / 15.00" in proc.stdout
    assert "0 / 8" in proc.stdout  # checks passed
    assert "not implemented yet" in proc.stdout
    assert "Traceback" not in proc.stdout and "Traceback" not in proc.stderr
    assert "FAIL" in proc.stdout


@pytest.mark.slow
def test_text_report_on_solutions(tmp_path):
    proc = grade(SOLUTIONS, "--part", "activations", fmt="text", report_dir=tmp_path / "r")
    assert proc.returncode == 0
    assert "15.00 / 15.00" in proc.stdout and "8 / 8" in proc.stdout
    assert "not implemented" not in proc.stdout and "FAIL" not in proc.stdout


# -- 7. the same results as JUnit XML and Markdown -----------------------------------------------------
@pytest.fixture(scope="module")
def wrong_and_crashing(tmp_path_factory):
    """The reference with a wrong relu and a sigmoid_prime that kills its process: failures and errors."""
    sub = copy_of(SOLUTIONS, tmp_path_factory.mktemp("formats") / "sub")
    with open(sub / "activations.py", "a") as f:
        f.write("\n\ndef relu(z):\n    return z\n\n\ndef sigmoid_prime(z):\n    import os\n    os._exit(0)\n")
    args = ("--part", "activations", "--part", "updates")
    report_dir = tmp_path_factory.mktemp("r")
    runs = {fmt: grade(sub, *args, fmt=fmt, report_dir=report_dir) for fmt in ("json", "junit", "markdown")}
    summary = report_dir / "step_summary.md"
    summary.write_text("earlier steps' summary\n")
    runs["github"] = subprocess.run([str(GRADE), "check", str(sub), "--format", "github", "--report-dir", str(report_dir),
                                     *args], capture_output=True, text=True, cwd=ROOT, timeout=300,
                                    env={**os.environ, "GITHUB_STEP_SUMMARY": str(summary)})
    runs["summary"], runs["sub"] = summary.read_text(), sub
    return runs


@pytest.mark.slow
def test_junit_parses_back_and_agrees_with_the_json(wrong_and_crashing):
    from junitparser import Error, Failure, JUnitXml
    from lxml import etree

    runs = wrong_and_crashing
    assert runs["junit"].returncode == 1 and "Traceback" not in runs["junit"].stderr
    results = json.loads(runs["json"].stdout)
    junit_schema().assertValid(etree.fromstring(runs["junit"].stdout.encode()))  # Jenkins xunit's junit-10.xsd
    xml = JUnitXml.fromstring(runs["junit"].stdout.encode())
    suites = list(xml)
    assert [s.name for s in suites] == ["Activation functions", "Weight updates"]
    cases = [case for suite in suites for case in suite]
    assert len(cases) == len(results["tests"]) == 13
    by_json = {t["name"]: t for t in results["tests"]}
    kinds = {"passed": 0, "failed": 0, "error": 0}
    total = 0.0
    for suite in suites:
        props = {p.name: float(p.value) for p in suite.properties()}  # the points: on the testsuite
        for case in suite:
            test = by_json[f"{suite.name}: {case.name}"]
            outcome = [type(r) for r in case.result]
            kind = "error" if Error in outcome else "failed" if Failure in outcome else "passed"
            assert kind == test["extra_data"]["status"], case.name
            kinds[kind] += 1
            assert props[f"max_score:{case.name}"] == test["max_score"]
            assert props[f"score:{case.name}"] == test["score"]
            total += props[f"score:{case.name}"]
        assert props["score"] == pytest.approx(sum(t["score"] for t in results["tests"]
                                                   if t["name"].startswith(f"{suite.name}: ")))
    assert total == pytest.approx(results["score"])
    assert kinds["failed"] > 0 and kinds["error"] > 0 and kinds["passed"] > 0
    assert int(xml.failures) == kinds["failed"] and int(xml.errors) == kinds["error"]


@pytest.mark.slow
def test_markdown_summary_has_the_table_and_each_failure(wrong_and_crashing):
    runs = wrong_and_crashing
    text, results = runs["markdown"].stdout, json.loads(runs["json"].stdout)
    assert runs["markdown"].returncode == 1
    activations = sum(t["score"] for t in results["tests"] if t["extra_data"]["part"] == "activations")
    assert f"| Activation functions | {activations:.2f} / 15.00 |" in text
    assert "| Weight updates | 15.00 / 15.00 | 5 / 5 | pass |" in text
    assert f"| **total** | **{results['score']:.2f} / 30.00** | | |" in text
    failed = [t for t in results["tests"] if t["status"] == "failed"]
    assert text.count("- **ERROR**: ") == sum(t["extra_data"]["status"] == "error" for t in failed) > 0
    assert text.count("- **failed**: ") == sum(t["extra_data"]["status"] == "failed" for t in failed) > 0
    assert "exit code 0" in text


@pytest.mark.slow
def test_github_annotations_point_at_the_students_lines(wrong_and_crashing):
    runs = wrong_and_crashing
    proc, results, sub = runs["github"], json.loads(runs["json"].stdout), runs["sub"]
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    commands = [line for line in proc.stdout.splitlines() if line.lstrip().startswith("::")]
    failed = [t for t in results["tests"] if t["status"] == "failed"]
    assert len(commands) == len(failed) > 0  # one annotation per failed check, and no other command
    source = (sub / "activations.py").read_text().splitlines()
    last_def = {name: max(i for i, line in enumerate(source, 1) if line.startswith(f"def {name}("))
                for name in ("relu", "sigmoid_prime")}
    exit_line = source.index("    os._exit(0)") + 1
    relu_values = next(c for c in commands if "relu matches the reference" in c)
    assert relu_values.startswith("::error file=") and f"activations.py,line={last_def['relu']}," in relu_values
    crashed = [c for c in commands if "title=ERROR%3A " in c]
    assert crashed and all("activations.py,line=" in c for c in crashed)
    assert all(f",line={last_def['sigmoid_prime']}," in c or f",line={exit_line}," in c for c in crashed)
    # the summary is appended, after what earlier steps wrote
    assert runs["summary"].startswith("earlier steps' summary\n## ")
    assert "| Weight updates | 15.00 / 15.00 | 5 / 5 | pass |" in runs["summary"]


@pytest.mark.slow
def test_results_json_and_junit_come_from_the_same_run(wrong_and_crashing, tmp_path):
    from junitparser import JUnitXml

    runs = wrong_and_crashing
    proc = grade(runs["sub"], "--part", "activations", "--part", "updates", "--results-json",
                 str(tmp_path / "r" / "results.json"), "--junit-xml", str(tmp_path / "r" / "junit.xml"), fmt="text",
                 report_dir=tmp_path)
    assert proc.returncode == 1 and "total" in proc.stdout  # the text report still on stdout
    results, alone = json.loads((tmp_path / "r" / "results.json").read_text()), json.loads(runs["json"].stdout)
    assert [(t["name"], t["score"]) for t in results["tests"]] == [(t["name"], t["score"]) for t in alone["tests"]]
    xml = JUnitXml.fromfile(str(tmp_path / "r" / "junit.xml"))
    assert sum(len(list(suite)) for suite in xml) == len(results["tests"])


@pytest.mark.slow
def test_pass_mark_sets_the_exit_code(wrong_and_crashing, tmp_path):
    runs = wrong_and_crashing
    score = json.loads(runs["json"].stdout)["score"]
    assert 0 < score < 30
    tree = yaml.safe_load((ROOT / "course.yaml").read_text())
    only_parts(tree, ("activations", "updates"))
    tree["training"]["reference"] = str(ROOT / "solutions")
    codes = {}
    for mark in (score - 1, score + 1):
        tree["assignments"]["backprop"]["pass_mark"] = mark
        course = tmp_path / f"course-{mark}.yaml"
        write_course(course, tree)
        proc = grade(runs["sub"], "--pass-mark", "--course", str(course), fmt="text", report_dir=tmp_path)
        codes[mark] = proc.returncode
        assert ("at or above" if mark < score else "below") + f" the pass mark of {mark:g}" in proc.stdout
    assert codes == {score - 1: 0, score + 1: 1}
    plain = grade(runs["sub"], "--course", str(course), fmt="text", report_dir=tmp_path)
    assert plain.returncode == 1  # without --pass-mark: every check must pass
    mixed = grade(runs["sub"], "--pass-mark", "--part", "updates", fmt="text", report_dir=tmp_path)
    assert mixed.returncode == 2 and "--pass-mark is about the whole assignment" in mixed.stderr


@pytest.mark.slow
def test_k_selects_checks_by_name_and_keeps_their_share_of_the_part(tmp_path):
    code, results, _ = grade_json(SOLUTIONS, "-k", "relu_prime", "--report-dir", str(tmp_path / "r"))
    assert code == 0
    names = [t["name"] for t in results["tests"]]
    assert len(names) == 2 and all("relu_prime" in n for n in names), names
    assert [t["max_score"] for t in results["tests"]] == [2.0, 2.0]  # 2 of the 15 activation weights each
    assert "-k relu_prime: 2 of the 27 checks of the graded parts" in results["output"]
    # test the tester: a wrong relu_prime fails the selection, and a wrong relu is not selected
    sub = copy_of(SOLUTIONS, tmp_path / "sub")
    with open(sub / "activations.py", "a") as f:
        f.write("\n\ndef relu_prime(z):\n    return z\n\n\ndef relu(z):\n    return z\n")
    code, results, _ = grade_json(sub, "-k", "relu_prime", "--report-dir", str(tmp_path / "r"))
    assert code == 1 and results["score"] == 0 and len(results["tests"]) == 2
    code, results, _ = grade_json(sub, "-k", "relu and not prime", "--report-dir", str(tmp_path / "r"))
    assert code == 1 and [t["name"].split(": ")[1] for t in results["tests"]] == ["relu matches the reference"]


@pytest.mark.slow
def test_k_that_matches_nothing_or_with_pass_mark_is_refused(tmp_path):
    for args, words in ((["-k", "no_such_check"], "-k no_such_check: no check's name matches"),
                        (["-k", "relu", "--pass-mark"], "leave out --part and -k")):
        proc = subprocess.run([*GRADE_COMMAND, "check", str(SOLUTIONS), *args, "--report-dir", str(tmp_path / "r")],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr


def test_version_and_python_dash_m_name_the_kit():
    import subprocess
    import sys

    from helpers import GRADE
    console = subprocess.run([*GRADE, "--version"], capture_output=True, text=True)
    module = subprocess.run([sys.executable, "-m", "grader", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert console.returncode == module.returncode == 0
    assert console.stdout == module.stdout and console.stdout.startswith("grade, version ")


@pytest.mark.slow
def test_check_typed_anywhere_in_the_course_grades_the_exercises(tmp_path):
    for where in (EXERCISES, EXERCISES.parent, ROOT / "grader"):
        proc = subprocess.run([*GRADE_COMMAND, "check", "--part", "activations", "--format", "json", "--report-dir",
                               str(tmp_path)], capture_output=True, text=True, cwd=where, timeout=300)
        assert "no such folder" not in proc.stderr
        results = report_json(proc)
        assert results["score"] == 0 and len(results["tests"]) == 8
