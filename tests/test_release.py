"""`grade release`: the student repository has everything needed to work and be graded, and
no line of any solution, no hidden vector, and a CI workflow that two real linters pass."""
import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import GRADE, ROOT, SOLUTIONS

from grader.generate import BEGIN, END

pytestmark = pytest.mark.slow  # releases, grades the release and runs two linters (1.4-5.8 s each)

BIN = Path(sys.executable).parent


def trivial(line):
    """A line that says nothing of a solution: `return grads`, `grads = {}`, `pass`."""
    try:
        node = ast.parse(line).body[0]
    except (SyntaxError, IndexError):
        return False
    value = getattr(node, "value", None)
    return isinstance(node, ast.Pass) or isinstance(node, (ast.Return, ast.Assign)) and isinstance(
        value, (ast.Name, ast.Constant, ast.Dict, ast.List)) and not getattr(value, "keys", None) and \
        not getattr(value, "elts", None)


def solution_lines(folder=SOLUTIONS):
    """Every line between solution markers in folder's .py files, except the trivial and those
    the student version shows anyway (the provided forward() also says L = len(params) // 2)."""
    inside, outside = set(), set()
    for path in folder.glob("*.py"):
        marked = False
        for line in path.read_text().splitlines():
            if line.strip() in (BEGIN, END):
                marked = line.strip() == BEGIN
            elif line.strip():
                (inside if marked else outside).add(line.strip())
    return {line for line in inside - outside if not trivial(line)}


def leaks(folder, secrets):
    """(file, line) of every line in folder's files that is one of the secret lines."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".ipynb":  # a notebook's lines are JSON strings
            text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
        found += [(path, line.strip()) for line in text.splitlines() if line.strip() in secrets]
    return found


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "student-repo"
    proc = subprocess.run([*GRADE, "release", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


def test_release_holds_no_solution_line(released):
    secrets = solution_lines()
    assert len(secrets) >= 15  # every blank's body
    assert leaks(released, secrets) == []
    # test the tester: the scan does find them where they are
    assert len(leaks(SOLUTIONS, secrets)) >= len(secrets)
    assert leaks(ROOT / "notebooks", secrets)


def test_release_has_no_private_folder_or_hidden_vector(released):
    names = {p.relative_to(released).parts[0] for p in released.rglob("*")}
    assert names == {".github", ".gitignore", "README.md", "course.yaml", "datasets", "exercises", "grader",
                     "pyproject.toml"}
    hidden = json.loads((ROOT / "hidden" / "vectors.json").read_text())
    everything = "".join(p.read_text(errors="replace") for p in released.rglob("*") if p.is_file())
    assert str(hidden["seed"]) not in everything
    first_hidden_number = repr(hidden["vectors"]["hidden/relu"]["args"][0][0][0])
    assert first_hidden_number not in everything
    assert (released / "grader" / "vectors.json").read_text() == (ROOT / "grader" / "vectors.json").read_text()
    course = (released / "course.yaml").read_text()
    assert "reference:" not in course and "mnist_accuracy" in course


def test_released_kit_grades_on_its_own(released, tmp_path):
    """The release's own grader (not the kit's) grades its stubs 0 and the reference in full."""
    env = {**os.environ, "PYTHONPATH": str(released)}
    where = subprocess.run([sys.executable, "-c", "import grader; print(grader.__file__)"], capture_output=True,
                           text=True, cwd=released, env=env)
    assert where.stdout.strip() == str(released / "grader" / "__init__.py")
    run = [sys.executable, "-m", "grader.cli", "check", "--format", "json", "--report-dir", str(tmp_path)]
    stubs = subprocess.run(run, capture_output=True, text=True, cwd=released, env=env, timeout=300)
    assert stubs.returncode == 1 and json.loads(stubs.stdout)["score"] == 0
    for path in SOLUTIONS.glob("*.py"):
        shutil.copy(path, released / "exercises" / path.name)
    try:
        full = subprocess.run(run, capture_output=True, text=True, cwd=released, env=env, timeout=300)
        results = json.loads(full.stdout)
        assert full.returncode == 0 and results["score"] == 100
        assert "not compared with the reference" in json.dumps(results)  # no solutions/ in a release
    finally:
        for path in SOLUTIONS.glob("*.py"):  # put the stubs back for the other tests
            shutil.copy(ROOT / "exercises" / path.name, released / "exercises" / path.name)


def lint(workflow):
    """Both linters on a workflow file: (exit code of each, their output)."""
    schema = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                             str(workflow)], capture_output=True, text=True)
    audit = subprocess.run([str(BIN / "zizmor"), "--offline", "--no-progress", str(workflow)],
                           capture_output=True, text=True)
    return (schema.returncode, audit.returncode), schema.stdout + schema.stderr + audit.stdout + audit.stderr


def test_workflow_lints_clean_and_does_what_the_course_needs(released):
    workflow = released / ".github" / "workflows" / "grade.yml"
    codes, output = lint(workflow)
    assert codes == (0, 0), output
    text = workflow.read_text()
    assert "pull_request:" in text and "--format github" in text and "--pass-mark" in text
    assert "upload-artifact" in text and "grade-report/" in text
    assert re.search(r"--results-json \S+ --junit-xml \S+", text)


@pytest.mark.parametrize("breakage, linter", [
    (lambda t: t.replace("    runs-on: ubuntu-latest\n", ""), 0),  # a job without a runner
    (lambda t: t.replace("timeout-minutes: 20", "timeout-minutes: twenty"), 0),
    (lambda t: re.sub(r"actions/checkout@\w+", "actions/checkout@v4", t), 1),  # a mutable tag
    (lambda t: t.replace("run: grade fetch-data", "run: echo ${{ github.event.pull_request.title }}"), 1),
])
def test_linters_fail_a_broken_workflow(released, tmp_path, breakage, linter):
    broken = tmp_path / "grade.yml"
    text = (released / ".github" / "workflows" / "grade.yml").read_text()
    broken.write_text(breakage(text))
    assert broken.read_text() != text
    codes, output = lint(broken)
    assert codes[linter] != 0, output


def test_release_refuses_a_folder_with_files_and_leaves_nothing_behind(tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    proc = subprocess.run([*GRADE, "release", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 1 and "already exists and is not an empty folder" in proc.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_release_and_bundle_refuse_stale_generated_files(tmp_path):
    """Stubs older than the reference would ship old blanks: both commands stop and name them."""
    kit = tmp_path / "kit"
    for name in ("solutions", "exercises", "hidden", "notebooks", "datasets", "grader"):
        shutil.copytree(ROOT / name, kit / name, ignore=shutil.ignore_patterns("__pycache__", "mnist"))
    for name in ("course.yaml", "pyproject.toml", ".gitignore"):
        shutil.copy(ROOT / name, kit / name)
    path = kit / "solutions" / "activations.py"
    path.write_text(path.read_text().replace("Hint: np.maximum", "Hint: numpy's maximum"))
    for command in (["release", str(tmp_path / "out")], ["export", "gradescope", str(tmp_path / "out.zip")]):
        proc = subprocess.run([*GRADE, *command, "--course", str(kit / "course.yaml")], capture_output=True,
                              text=True, cwd=tmp_path, timeout=300)
        assert proc.returncode == 1 and "stale:" in proc.stderr and "exercises/activations.py" in proc.stderr
        assert "run `grade generate` first" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kit"]
