"""The instructor guide's "Add a blank", followed as written in a copy of the course: the code and
the declaration are taken from docs/instructor-guide.md itself, so the page cannot drift from
what the kit does. A blank and its derivative, added by declaration alone, get value, gradient,
purity and hidden checks, stubs and vectors, and no file under grader/ changes."""
import hashlib
import re
import shutil
import subprocess

import pytest

from helpers import GRADE, ROOT, break_line, copy_of, grade_json

GUIDE = ROOT / "docs" / "instructor-guide.md"


def guide_blocks():
    """(the Python code, the YAML declaration) of the guide's "Add a blank" section."""
    section = GUIDE.read_text().split("## Add a blank\n", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    declaration = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    return code, declaration


def grader_files():
    return {p.relative_to(ROOT).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((ROOT / "grader").rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """A copy of the course with the guide's leaky_relu and leaky_relu_prime added, generated."""
    code, declaration = guide_blocks()
    kit = tmp_path_factory.mktemp("guide") / "kit"
    for name in ("solutions", "exercises", "hidden", "notebooks"):  # the instructor's repository, as cloned
        shutil.copytree(ROOT / name, kit / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "generated.sha256", kit / "generated.sha256")
    course = (ROOT / "course.yaml").read_text()
    # under assignments.backprop.blanks: the first assignment's is the first `blanks:` of the file
    assert course.index("    blanks:\n") < course.index("  design-choices:\n")
    (kit / "course.yaml").write_text(course.replace("    blanks:\n", "    blanks:\n" + declaration, 1))
    activations = kit / "solutions" / "backprop" / "activations.py"
    activations.write_text(activations.read_text() + "\n\n" + code)
    before = grader_files()
    done = subprocess.run([*GRADE, "generate", "--course", str(kit / "course.yaml")], capture_output=True, text=True,
                          cwd=kit, timeout=300)
    assert done.returncode == 0, done.stderr
    assert grader_files() == before  # nothing under grader/ was written
    return kit


def grade(kit, submission, *args):
    return grade_json(submission, "--course", str(kit / "course.yaml"), "--report-dir", str(kit / "report"), *args)


@pytest.mark.slow
def test_the_reference_scores_full_marks_with_the_new_blanks_checked_also_on_hidden_inputs(kit):
    code, results, _ = grade(kit, kit / "solutions" / "backprop", "--hidden",
                             str(kit / "hidden" / "backprop" / "vectors.json"))
    names = [t["name"] for t in results["tests"]]
    assert code == 0 and results["score"] == pytest.approx(100), [t["output"] for t in results["tests"]]
    for name in ("Activation functions: leaky_relu matches the reference",
                 "Activation functions: leaky_relu_prime agrees with central differences of leaky_relu",
                 "Activation functions: leaky_relu on hidden inputs",
                 "Activation functions: leaky_relu_prime on hidden inputs"):
        assert name in names
    purity = next(n for n in names if "do not modify their inputs" in n)
    assert "leaky_relu" in purity and "leaky_relu_prime" in purity
    # the stubs and the notebook have the new blanks too
    stub = (kit / "exercises" / "backprop" / "activations.py").read_text()
    assert 'raise NotImplementedError("leaky_relu_prime is not implemented yet")' in stub
    assert "np.where(z > 0, 1.0, 0.01)" not in stub
    assert "leaky_relu_prime" in (kit / "notebooks" / "source" / "backprop" / "backprop.ipynb").read_text()


@pytest.mark.slow
def test_the_stubs_score_nothing(kit):
    code, results, _ = grade(kit, kit / "exercises" / "backprop")
    assert code == 1 and results["score"] == 0
    leaky = [t for t in results["tests"] if "leaky_relu" in t["name"]]
    assert len(leaky) == 4 and all("not implemented yet" in t["output"] for t in leaky)


@pytest.mark.slow
def test_a_wrong_derivative_fails_its_gradient_check_and_nothing_else(kit, tmp_path):
    wrong = copy_of(kit / "solutions" / "backprop", tmp_path / "wrong")
    break_line(wrong, "activations.py", "return np.where(z > 0, 1.0, 0.01)", "return np.where(z > 0, 1.0, 0.1)")
    code, results, _ = grade(kit, wrong, "--part", "activations")
    failed = {t["name"].split(": ", 1)[1]: t["output"] for t in results["tests"] if t["status"] != "passed"}
    assert set(failed) == {"leaky_relu_prime matches the reference",
                           "leaky_relu_prime agrees with central differences of leaky_relu"}, failed
    gradient = failed["leaky_relu_prime agrees with central differences of leaky_relu"]
    assert "leaky_relu_prime should compute f'(z) = 1 where z > 0, else 0.01" in gradient  # the declared equation
    # test the tester: the right derivative passes the same check (the kit fixture's reference)
    code, results, _ = grade(kit, kit / "solutions" / "backprop", "--part", "activations")
    assert code == 0 and results["score"] == 15
