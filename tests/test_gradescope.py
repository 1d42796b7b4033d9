"""`grade export gradescope`: the bundle's run_autograder, run against a folder standing in for
/autograder, writes a results.json with Gradescope's documented fields for every kind of upload,
including one with nothing to grade."""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile

import jsonschema
import pytest
from grader.config import load, only_assignment
from grader.platforms.gradescope import ExportError, bundled_course_yaml
from helpers import EXERCISES, GRADE, ROOT, SOLUTIONS, copy_of, notebook_with

# Gradescope's documented results.json fields (see ../shared/REFERENCE.md); no others allowed.
VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["execution_time", "output", "tests"],
    "anyOf": [{"required": ["score"]}, {"properties": {"tests": {"items": {"required": ["score"]}}}}],
    "properties": {
        "score": {"type": "number", "minimum": 0}, "execution_time": {"type": "number", "minimum": 0},
        "output": {"type": "string"}, "output_format": {"enum": ["text", "simple_format", "md", "html", "ansi"]},
        "visibility": VISIBILITY, "stdout_visibility": VISIBILITY, "extra_data": {"type": "object"},
        "leaderboard": {"type": "array"},
        "tests": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["name", "score", "max_score", "status"],
            "properties": {
                "score": {"type": "number", "minimum": 0}, "max_score": {"type": "number", "minimum": 0},
                "status": {"enum": ["passed", "failed"]}, "name": {"type": "string"}, "number": {"type": "string"},
                "output": {"type": "string"}, "output_format": {"enum": ["text", "simple_format", "md", "html", "ansi"]},
                "tags": {"type": "array"}, "visibility": VISIBILITY, "extra_data": {"type": "object"}}}},
    },
}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("gradescope") / "autograder.zip"
    proc = subprocess.run([*GRADE, "export", "gradescope", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return out


def autograde(bundle, tmp_path, fill):
    """Unzip the bundle as Gradescope does, fill /autograder/submission, run run_autograder."""
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(bundle) as z:
        z.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    fill(root / "submission")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "GRADE_PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(root / "run_autograder")], capture_output=True, text=True, env=env,
                          timeout=600, cwd=tmp_path)
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    return proc, results


@pytest.mark.slow
def test_bundle_layout(bundle):
    with zipfile.ZipFile(bundle) as z:
        names = set(z.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
    assert {"setup.sh", "run_autograder", "course.yaml", "hidden/backprop/vectors.json", "grader/cli.py",
            "solutions/backprop/backprop.py", "grader/data/mnist.json", "pyproject.toml"} <= names
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    assert not any("__pycache__" in n or n.startswith(("notebooks/", "tests/")) for n in names)
    assert [n for n in names if n.startswith("exercises/")] == ["exercises/backprop/vectors.json"]  # no stub


@pytest.mark.slow
def test_reference_gets_full_marks_with_hidden_checks(bundle, tmp_path):
    proc, results = autograde(bundle, tmp_path, lambda d: copy_of(SOLUTIONS, d))
    assert proc.returncode == 0, proc.stderr
    assert results["score"] == pytest.approx(100)
    hidden = [t for t in results["tests"] if t["name"].endswith("on hidden inputs")]
    assert len(hidden) == 12 and all(t["visibility"] == "after_published" for t in hidden)  # layer_gradients: dW, db
    mnist = [t for t in results["tests"] if t["extra_data"]["part"] == "mnist"][0]
    assert "relative distance" in mnist["output"]  # the bundle's reference was trained and compared


@pytest.mark.slow
def test_repository_upload_with_stubs_scores_zero(bundle, tmp_path):
    proc, results = autograde(bundle, tmp_path, lambda d: copy_of(EXERCISES, d / "exercises" / "backprop"))
    assert results["score"] == 0 and len(results["tests"]) == 39


@pytest.mark.slow
def test_notebook_upload_is_graded(bundle, tmp_path):
    def fill(folder):
        shutil.copy(ROOT / "notebooks" / "source" / "backprop" / "backprop.ipynb", folder)
    _, results = autograde(bundle, tmp_path, fill)
    assert results["score"] == pytest.approx(100)


@pytest.mark.slow
def test_nothing_to_grade_still_writes_results(bundle, tmp_path):
    proc, results = autograde(bundle, tmp_path, lambda d: (d / "readme.txt").write_text("oops"))
    assert proc.returncode == 1 and results["score"] == 0 and results["tests"] == []
    assert "Nothing to grade: upload activations.py" in results["output"]


def test_schema_rejects_what_gradescope_would():
    """Test the tester: the schema above does fail results.json files that break the spec."""
    bad = [{"execution_time": 1, "output": "", "tests": [{"name": "x", "score": 1, "max_score": 1,
                                                          "status": "ok"}]},
           {"score": 1, "execution_time": 1, "output": "", "tests": [], "visbility": "visible"},
           {"score": 1, "execution_time": 1, "output": "", "tests": [{"name": "x", "max_score": 1, "score": 1,
                                                                      "status": "passed", "visibility": "secret"}]}]
    for results in bad:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(results, SCHEMA)


@pytest.mark.slow
def test_bundle_is_an_installable_package(bundle, tmp_path):
    """setup.sh runs `pip install /autograder/source`: the bundle must build, templates and all."""
    source = tmp_path / "source"
    with zipfile.ZipFile(bundle) as z:
        z.extractall(source)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                           str(tmp_path / "wheel"), str(source)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    assert {"grader/platforms/templates/gradescope_setup.sh", "grader/grading/checks/pytest.ini"} <= names
    assert not any(n.startswith(("solutions/", "hidden/")) for n in names)  # data of the bundle, not the package


@pytest.mark.slow
def test_gradescope_upload_linking_to_the_bundles_reference_earns_nothing(bundle, tmp_path):
    """../source/solutions is the same path on every Gradescope image."""
    def fill(folder):
        (folder / "exercises").symlink_to("../source/solutions", target_is_directory=True)
        assert (folder / "exercises" / "backprop" / "backprop.py").is_file()  # the link works: it would have been graded

    proc, results = autograde(bundle, tmp_path, fill)
    assert results["score"] == 0 and results["tests"] == []
    assert "exercises: a symbolic link" in results["output"]


@pytest.mark.slow
def test_gradescope_notebook_with_an_unhashable_literal_is_graded(bundle, tmp_path):
    """A cell `X = {[]: 0}` raised a TypeError that ended run_autograder with no results.json."""
    def fill(folder):
        (folder / "backprop.ipynb").write_text(notebook_with(["X = {[]: 0}"]))

    proc, results = autograde(bundle, tmp_path, fill)
    assert proc.returncode == 0, proc.stderr
    assert results["score"] == pytest.approx(100)


@pytest.mark.slow
def test_what_the_code_printed_is_in_results_json(bundle, tmp_path):
    """grade check keeps what the student's code printed in its report folder, but on Gradescope
    that folder is a temporary one: the text must be in results.json, bounded, and no line may
    send the student to a path that is gone."""
    def fill(folder):
        copy_of(SOLUTIONS, folder)
        with open(folder / "activations.py", "a") as f:
            f.write("\nprint('debugging: activations imported \\x1b[31mred')\n"
                    "print('x' * 300_000)\n")  # more than limits.output_kb (256 KiB) allows

    proc, results = autograde(bundle, tmp_path, fill)
    assert proc.returncode == 0, proc.stderr
    assert results["score"] == pytest.approx(100)  # printing costs nothing
    output = results["output"]
    assert "debugging: activations imported \\x1b[31mred" in output  # shown, its escape code made harmless
    assert "more bytes not kept]" in output and len(output) < 256 * 1024 + 4096  # bounded by limits.output_kb
    assert "printed" in output and "shown at the end of this output" in output
    for path in re.findall(r"see (\S+)", output):  # whatever it still points at exists
        assert os.path.exists(path), path
    assert str(tmp_path) not in output  # nothing names the grader's temporary folders


@pytest.mark.slow
def test_export_warns_about_settings_official_grading_should_not_keep(tmp_path):
    """The bundle used to carry `isolation: auto` and the released training.seed silently."""
    proc = subprocess.run([*GRADE, "export", "gradescope", str(tmp_path / "a.zip")], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    isolation, seed = [line for line in proc.stderr.splitlines() if line.startswith("warning: ")]
    assert f"{ROOT / 'course.yaml'}: isolation is auto" in isolation and "--isolation required" in isolation
    assert f"{ROOT / 'course.yaml'}: training.seed is 0" in seed and "--seed N" in seed
    assert "warning" not in proc.stdout  # stdout says only what was written


@pytest.mark.slow
def test_export_sets_isolation_and_a_private_seed_in_the_bundle_only(tmp_path):
    out = tmp_path / "official.zip"
    before = (ROOT / "course.yaml").read_text()
    proc = subprocess.run([*GRADE, "export", "gradescope", str(out), "--isolation", "required", "--seed", "4242"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr
    assert (ROOT / "course.yaml").read_text() == before  # the instructor's file, and so the release, unchanged
    with zipfile.ZipFile(out) as z:
        bundled = z.read("course.yaml").decode()
    (tmp_path / "course.yaml").write_text(bundled)
    course = load(tmp_path / "course.yaml")
    assert (course.isolation, course.seed) == ("required", 4242)
    assert "design-choices" in before and "design-choices" not in bundled  # the bundle's assignment alone
    alone = only_assignment(load(ROOT / "course.yaml", "backprop"))
    changed = [(a, b) for a, b in zip(alone.splitlines(), bundled.splitlines()) if a != b]
    assert len(changed) == 2 and len(alone.splitlines()) == len(bundled.splitlines())  # comments and all kept
    assert all(b.index("#") == a.index("#") for a, b in changed if "#" in a)  # aligned as they were
    _, results = autograde(out, tmp_path, lambda d: copy_of(SOLUTIONS, d))  # the reference, trained with 4242
    assert results["score"] == pytest.approx(100), results["output"]


def test_a_course_yaml_the_export_cannot_edit_is_an_error(tmp_path):
    """A flow mapping is not edited line by line: the export says so rather than bundle the old seed."""
    text = (ROOT / "course.yaml").read_text()
    start = text.index("training:")
    end = text.index("limits:")
    (tmp_path / "course.yaml").write_text(text[:start] + "training: {hidden_sizes: [128], epochs: 6, batch_size: "
                                          "32, learning_rate: 0.2, seed: 0}\n" + text[end:])
    course = load(tmp_path / "course.yaml", "backprop")
    with pytest.raises(ExportError, match=r"course\.yaml: could not set training\.seed to 7 .* block style"):
        bundled_course_yaml(course, seed=7)
    assert "isolation: off" in bundled_course_yaml(course, isolation="off")  # YAML's `off` is false: still read right
