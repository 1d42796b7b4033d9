"""The design-choices assignment, end to end: built from course.yaml's declarations alone, graded
on its blanks and on its experiments completing, and its feedback page showing the notes' two
comparisons -- the vanishing gradient and cross-entropy against MSE -- from the student's own
blanks, in a real browser. Also: choosing the assignment in a course of two."""
import os
import subprocess

import numpy as np
import pytest
import yaml
from helpers import GRADE, ROOT, break_line, copy_of, grade_json, report_json, write_course
from test_report_page import broken_images, open_page, painted

from grader import config
from grader.grading import experiments
from grader.data import mnist

DESIGN = ROOT / "solutions" / "design-choices"
STUBS = ROOT / "exercises" / "design-choices"
HIDDEN = ROOT / "hidden" / "design-choices" / "vectors.json"
COURSE = config.load(ROOT / "course.yaml", "design-choices")


def grade(submission, *args):
    return grade_json(submission, "--assignment", "design-choices", *args)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """The reference graded officially (hidden checks too), its report folder kept."""
    report = tmp_path_factory.mktemp("design") / "report"
    code, results, _ = grade(DESIGN, "--hidden", str(HIDDEN), "--report-dir", str(report))
    return code, results, report


@pytest.mark.slow
def test_the_reference_scores_full_marks_and_the_stubs_nothing(reference_run, tmp_path):
    code, results, _ = reference_run
    assert code == 0 and results["score"] == pytest.approx(100), [t["output"] for t in results["tests"]]
    names = {t["name"] for t in results["tests"]}
    assert {"Mean squared error and its output delta: mse is the mean over the columns: repeating the batch leaves "
            "it unchanged",
            "Mean squared error and its output delta: mse_delta agrees with central differences of mse(sigmoid(z), y)",
            "Mean squared error and its output delta: mse_delta on hidden inputs",
            "The notes' two experiments: the experiment \"ReLU against sigmoid in a deep net\" runs to completion "
            "with your blanks"} <= names
    code, stubs, _ = grade(STUBS, "--report-dir", str(tmp_path))
    assert code == 1 and stubs["score"] == 0 and len(stubs["tests"]) == 12


@pytest.mark.slow
def test_a_wrong_delta_costs_its_own_checks_and_the_experiment_that_trains_with_it(tmp_path):
    """delta(L) without the sigmoid's a (1 - a): its value and gradient checks fail, and so does the
    cross-entropy-against-MSE experiment, which cannot show the notes' point with it (it counts once
    the blanks it trains with pass their own checks: all-zero blanks earned 30 points otherwise);
    the vanishing-gradient experiment, which does not use mse_delta, keeps its points."""
    wrong = copy_of(DESIGN, tmp_path / "wrong")
    break_line(wrong, "loss.py", "return (a - y) * a * (1 - a) / y.shape[1]", "return (a - y) / y.shape[1]")
    code, results, _ = grade(wrong, "--report-dir", str(tmp_path / "r"))
    failed = {t["name"].split(": ", 1)[1]: t["output"] for t in results["tests"] if t["status"] != "passed"}
    assert set(failed) == {"mse_delta matches the reference (a batch, and one example)",
                           "mse_delta agrees with central differences of mse(sigmoid(z), y)",
                           'the experiment "Cross-entropy against MSE" runs to completion with your blanks'}, failed
    assert "trains with mse_delta, which fails its own checks" in failed[
        'the experiment "Cross-entropy against MSE" runs to completion with your blanks']
    # 7 of the loss part's 13 weights (mse_delta's values 3 and gradient 4) of its 40 points, and 15
    assert code == 1 and results["score"] == pytest.approx(100 - 40 * 7 / 13 - 15)


@pytest.mark.slow
def test_all_zero_blanks_earn_nothing_from_the_experiments(tmp_path):
    """Red team: zeros in sigmoid, sigmoid_prime and mse_delta let every run complete (and mse may
    stay a stub: the loss is only plotted), which earned the experiments' 30 points."""
    zeros = copy_of(STUBS, tmp_path / "zeros")
    for name in ("sigmoid", "sigmoid_prime"):
        break_line(zeros, "activations.py", f'raise NotImplementedError("{name} is not implemented yet")',
                   "return np.zeros_like(z)")
    break_line(zeros, "loss.py", 'raise NotImplementedError("mse_delta is not implemented yet")',
               "return np.zeros_like(a)")
    code, results, _ = grade(zeros, "--hidden", str(HIDDEN), "--report-dir", str(tmp_path / "r"))
    assert code == 1 and results["score"] == 0, [(t["name"], t["score"]) for t in results["tests"] if t["score"]]


@pytest.mark.slow
def test_the_plots_show_what_the_look_for_sentences_say():
    """The sentences on the page are claims about the student's runs: with the reference's blanks
    they hold, measured from the arrays the grader received."""
    data = mnist.load_mnist(os.environ["GRADE_DATA_DIR"])
    specs = {spec.id: spec for spec in COURSE.experiments}
    vanishing = experiments.run(DESIGN, COURSE, data, specs["vanishing"])
    assert vanishing.completed
    by_label = {run.label: run for run in vanishing.runs}
    first_to_last = {label: float(np.median(run.gradient_norms[:, 0] / run.gradient_norms[:, -1]))
                     for label, run in by_label.items()}
    # sigmoid: the first layer's gradient over an order of magnitude below the last's; ReLU: same order
    assert first_to_last["sigmoid"] < 0.1 < 0.5 < first_to_last["ReLU"], first_to_last
    losses = experiments.run(DESIGN, COURSE, data, specs["losses"])
    ce, mse = (run.history["validation_accuracy"] for run in losses.runs)
    assert all(a > b for a, b in zip(ce, mse, strict=True)), (ce, mse)  # ahead from the first epoch on


@pytest.mark.slow
def test_the_feedback_page_shows_both_experiments_from_the_students_code(browser, reference_run, tmp_path):
    _, _, report = reference_run
    page, events, _ = open_page(browser, report / "report.html")
    assert events == [] and broken_images(page) == []
    alts = page.evaluate("Array.from(document.images).map(i => i.alt)")
    assert alts == ["Experiment: ReLU against sigmoid in a deep net", "Experiment: Cross-entropy against MSE"]
    for alt in alts:
        assert painted(page, alt, tmp_path).std() > 0.05, alt  # drawn, not a blank box
    text = page.inner_text("body")
    for spec in COURSE.experiments:
        assert spec.look_for in text
    assert (report / "experiment_vanishing.png").is_file() and (report / "experiment_losses.png").is_file()


@pytest.mark.slow
def test_the_assignment_is_the_one_named_or_the_one_whose_folder_is_graded(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "GRADE_ASSIGNMENT"}

    def check(*args, cwd=ROOT):
        return subprocess.run([*GRADE, "check", *args, "--format", "json", "--report-dir", str(tmp_path / "r"),
                               "--part", "activations"], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)

    elsewhere = copy_of(DESIGN, tmp_path / "mine")
    proc = check(str(elsewhere))
    assert proc.returncode == 2 and "2 assignments (backprop, design-choices): choose one with --assignment" in \
        proc.stderr
    assert report_json(check(str(elsewhere), "--assignment", "design-choices"))["score"] == 30
    assert report_json(check(str(DESIGN)))["score"] == 30  # solutions/design-choices/: that assignment's
    assert report_json(check(cwd=STUBS))["score"] == 0  # typed inside exercises/design-choices/: its stubs
    assert len(report_json(check(cwd=STUBS))["tests"]) == 5  # design-choices' activations part, not backprop's 8
    # an assignment named (here by GRADE_ASSIGNMENT) that is not the folder's is refused, not graded as the other
    env["GRADE_ASSIGNMENT"] = "backprop"
    proc = check(str(DESIGN))
    assert proc.returncode == 2 and "is assignment design-choices's, but --assignment (or GRADE_ASSIGNMENT) says " \
        "backprop" in proc.stderr


def test_an_experiment_keeps_a_zero_and_a_label_with_a_dot(tmp_path):
    tree = yaml.safe_load((ROOT / "course.yaml").read_text())
    losses = tree["assignments"]["design-choices"]["experiments"]["losses"]
    losses["learning_rate"] = 0
    losses["runs"]["MSE, lr 0.05"] = losses["runs"].pop("sigmoid + MSE")
    course = config.load(write_course(tmp_path / "course.yaml", tree), "design-choices")
    [spec] = [e for e in course.experiments if e.id == "losses"]
    assert spec.learning_rate == 0 and "MSE, lr 0.05" in dict(spec.runs)
    assert dict(spec.runs)["MSE, lr 0.05"].loss == "mse"


@pytest.mark.parametrize("change, words", [
    (lambda a: a["experiments"]["losses"]["runs"].pop("sigmoid + MSE"), "an experiment compares at least two runs"),
    (lambda a: a["experiments"]["losses"].update(plot="bars"), "plot = 'bars': must be one of gradient_norms, curves"),
    (lambda a: a["experiments"]["losses"]["runs"]["sigmoid + MSE"].update(loss="hinge"),
     "output and loss must be one of"),
    (lambda a: a["blanks"]["mse_delta"]["delta_of"].update(output="tanh"), "delta_of.output = 'tanh': not a blank"),
    (lambda a: a["blanks"]["mse_delta"]["checks"].update(mean=1), "a mean over the batch is a check of a scalar"),
    (lambda a: a.pop("experiments"), "parts.experiments"),
    (lambda a: a["blanks"]["mse_delta"].update(part="los"), "blanks.mse_delta.part = 'los': not a part of this"),
    (lambda a: a["blanks"]["sigmoid_prime"].update(derivative_of="mse"),
     "derivative_of = 'mse': an element-wise derivative is of a blank of one input"),
    (lambda a: a["blanks"]["mse"].update(inputs=[{"a": 1}]), "blanks.mse.inputs[0] = {'a': 1}: not an input generator"),
    (lambda a: a["experiments"]["losses"].update(hidden_sizes=[True]), "hidden_sizes = [True]: must be a non-empty"),
])
def test_bad_declarations_are_named(tmp_path, change, words):
    tree = yaml.safe_load((ROOT / "course.yaml").read_text())
    change(tree["assignments"]["design-choices"])
    path = write_course(tmp_path / "course.yaml", tree)
    with pytest.raises(config.ConfigError, match="assignments.design-choices") as info:
        config.load(path, "design-choices")
    assert words in str(info.value)


@pytest.mark.slow
def test_grade_train_runs_the_experiments_too(tmp_path):
    proc = subprocess.run([*GRADE, "train", str(DESIGN), "--assignment", "design-choices", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "experiment: ReLU against sigmoid in a deep net" in proc.stdout
    assert "  sigmoid + MSE: validation accuracy " in proc.stdout and "|dW(1)| / |dW(L)| median" in proc.stdout
    for name in ("experiment_vanishing.png", "experiment_losses.png", "loss_curves.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG"), name


@pytest.mark.slow
def test_the_gradescope_bundle_grades_its_own_assignment(tmp_path):
    """The bundle holds design-choices alone and its runner names it, whatever GRADE_ASSIGNMENT
    the machine sets (the test suite sets backprop)."""
    from test_gradescope import autograde

    bundle = tmp_path / "design.zip"
    proc = subprocess.run([*GRADE, "export", "gradescope", str(bundle), "--assignment", "design-choices"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert os.environ.get("GRADE_ASSIGNMENT") == "backprop"
    _, results = autograde(bundle, tmp_path, lambda d: copy_of(DESIGN, d))
    assert results["score"] == pytest.approx(100), results["output"]
    assert sum(t["name"].endswith("on hidden inputs") for t in results["tests"]) == 4


@pytest.mark.slow
def test_the_given_network_is_the_assignments_not_the_students(tmp_path):
    """network.py gives functions training calls but students do not write: an upload without it
    loses nothing, and an edited one changes nothing (the report says its own copy was used)."""
    without = tmp_path / "without"
    without.mkdir()
    for name in ("activations.py", "loss.py"):
        (without / name).write_text((DESIGN / name).read_text())
    code, results, _ = grade(without, "--report-dir", str(tmp_path / "r1"))
    assert code == 0 and results["score"] == pytest.approx(100), results["output"]
    edited = copy_of(DESIGN, tmp_path / "edited")
    break_line(edited, "network.py", "    return np.maximum(z, 0)", "    raise RuntimeError('not this one')")
    code, results, _ = grade(edited, "--report-dir", str(tmp_path / "r2"))
    assert code == 0 and results["score"] == pytest.approx(100), results["output"]
    assert "network.py: the assignment gives it, and the grader used the assignment's own copy" in results["output"]


def test_the_hidden_stress_case_is_not_the_public_one():
    """Red team: with one fixed +-1000 row, a table of the public stress answers passed the hidden
    check. The stress values are drawn from each file's seed."""
    import json

    public = json.loads((STUBS / "vectors.json").read_text())["sigmoid/stable"]["args"][0]
    hidden = json.loads(HIDDEN.read_text())["vectors"]["hidden/sigmoid/stable"]["args"][0]
    assert np.shape(public) == np.shape(hidden) == (1, 9) and not np.allclose(public, hidden)
    assert np.abs(public).max() > 709 and np.abs(hidden).max() > 709  # where exp overflows


def test_a_blank_declared_since_the_last_generate_is_named(tmp_path):
    """Red team: a declaration without `grade generate` crashed every check of its blank (exit 3)."""
    from grader.grading import vectors

    tree = yaml.safe_load((ROOT / "course.yaml").read_text())
    tree["assignments"]["design-choices"]["blanks"]["tanh"] = {
        "part": "activations", "equation": "tanh(z)", "inputs": ["wide"], "checks": {"values": 1}}
    course = config.load(write_course(tmp_path / "course.yaml", tree), "design-choices")
    with pytest.raises(vectors.HiddenError, match=r"vectors\.json: no case tanh for blank tanh; run `grade generate`"):
        vectors.require(course.vectors, course.blanks)
    vectors.require(COURSE.vectors, COURSE.blanks)  # test the tester: the generated course has every case
