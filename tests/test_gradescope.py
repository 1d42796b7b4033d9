"""`grade export gradescope`: the bundle's run_autograder, run against a folder standing in for
/autograder, writes a results.json with Gradescope's documented fields for every kind of upload,
including one with nothing to grade."""
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile

import jsonschema
import pytest
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
    assert {"setup.sh", "run_autograder", "course.yaml", "hidden/vectors.json", "grader/cli.py",
            "solutions/backprop.py", "datasets/mnist.json", "pyproject.toml"} <= names
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    assert not any("__pycache__" in n or n.startswith(("exercises/", "notebooks/", "tests/")) for n in names)


@pytest.mark.slow
def test_reference_gets_full_marks_with_hidden_checks(bundle, tmp_path):
    proc, results = autograde(bundle, tmp_path, lambda d: copy_of(SOLUTIONS, d))
    assert proc.returncode == 0, proc.stderr
    assert results["score"] == pytest.approx(100)
    hidden = [t for t in results["tests"] if t["name"].endswith("on hidden inputs")]
    assert len(hidden) == 12 and all(t["visibility"] == "after_published" for t in hidden)  # layer_gradients: dW, db
    mnist = [t for t in results["tests"] if t["extra_data"]["part"] == "mnist"][0]
    assert "from the reference's" in mnist["output"]  # the bundle's reference was trained and compared


@pytest.mark.slow
def test_repository_upload_with_stubs_scores_zero(bundle, tmp_path):
    proc, results = autograde(bundle, tmp_path, lambda d: copy_of(EXERCISES, d / "exercises"))
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
    assert {"grader/vectors.json", "grader/templates/gradescope_setup.sh", "grader/checks/pytest.ini",
            "grader/provided/network.py"} <= names
    assert not any(n.startswith(("solutions/", "hidden/")) for n in names)  # data of the bundle, not the package


@pytest.mark.slow
def test_gradescope_upload_linking_to_the_bundles_reference_earns_nothing(bundle, tmp_path):
    """../source/solutions is the same path on every Gradescope image."""
    def fill(folder):
        (folder / "exercises").symlink_to("../source/solutions", target_is_directory=True)
        assert (folder / "exercises" / "backprop.py").is_file()  # the link works: it would have been graded

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
