"""`grade release`: the student repository has everything needed to work and be graded, and
no line of any solution, no hidden vector, none of the instructor's code, a CI workflow that
two real linters pass and that reports to GitHub Classroom, and a Dependabot config that
GitHub's schema accepts."""
import ast
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml
from helpers import EXERCISES, GRADE, ROOT, SOLUTIONS, readme_problems, reporter_view

from grader import cli, config
from grader.authoring.generate import BEGIN, END
from grader.platforms.release import INSTRUCTOR_ONLY

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
    assert names == {".github", ".gitignore", "README.md", "course.yaml", "exercises", "grader", "LICENSE",
                     "pyproject.toml"}
    assert sorted(p.relative_to(released).as_posix() for p in (released / ".github").rglob("*") if p.is_file()) == \
        [".github/dependabot.yml", ".github/workflows/grade.yml"]
    hidden = json.loads((ROOT / "hidden" / "backprop" / "vectors.json").read_text())
    everything = "".join(p.read_text(errors="replace") for p in released.rglob("*") if p.is_file())
    assert str(hidden["seed"]) not in everything
    first_hidden_number = repr(hidden["vectors"]["hidden/relu"]["args"][0][0][0])
    assert first_hidden_number not in everything
    assert (released / "exercises" / "backprop" / "vectors.json").read_text() == (EXERCISES / "vectors.json").read_text()
    course = (released / "course.yaml").read_text()
    assert "reference:" not in course and "mnist_accuracy" in course


@pytest.fixture(scope="module")
def student_grade(released, tmp_path_factory):
    """The release pip-installed (editable, as its README says) into a fresh venv: its `grade`.
    Its dependencies are this venv's, reached through a .pth line rather than installed again;
    this venv's own `grader` is not among them (an editable finder, which a .pth line naming
    the folder does not run). pip builds the release with setuptools from its cache or the index."""
    venv = tmp_path_factory.mktemp("student") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "kit-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                              "-e", str(released)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    where = subprocess.run([str(python), "-c", "import grader; print(grader.__file__)"], capture_output=True,
                           text=True, cwd=venv)
    assert where.stdout.strip() == str(released / "grader" / "__init__.py")
    return str(venv / "bin" / "grade")


def test_students_grade_has_their_commands_and_names_the_instructors(student_grade, released):
    def run(*args):
        return subprocess.run([student_grade, *args], capture_output=True, text=True, cwd=released, timeout=60)

    listed = run("--help")
    assert listed.returncode == 0, listed.stderr
    commands = set(re.findall(r"^  (\S+)  ", listed.stdout.split("Commands:")[1], re.M))
    assert commands == {"check", "train", "fetch-data"}
    for command in ("check", "train", "fetch-data"):
        assert run(command, "--help").returncode == 0
    for args in (["generate", "--check"], ["release", "out"], ["export", "gradescope", "x.zip"], ["batch", "subs"],
                 ["release", "--help"]):
        proc = run(*args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert f"`grade {args[0]}` is an instructor's command" in proc.stderr
    # test the tester: the kit's own grade has them all
    kit = subprocess.run([*GRADE, "--help"], capture_output=True, text=True).stdout
    assert {"generate", "release", "export", "batch"} <= set(re.findall(r"^  (\S+)  ", kit, re.M))


def grade_as_the_workflow_does(student_grade, released, tmp_path):
    """The workflow's grade step, run by the student's `grade`: (exit code, results.json, the
    step output `result`, the job summary)."""
    tmp_path.mkdir()
    outputs, summary = tmp_path / "github_output", tmp_path / "step_summary.md"
    outputs.write_text("")
    proc = subprocess.run([student_grade, "check", "--format", "github", "--pass-mark", "--results-json",
                           str(tmp_path / "results.json"), "--report-dir", str(tmp_path / "report")],
                          capture_output=True, text=True, cwd=released, timeout=300,
                          env={**os.environ, "GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(summary)})
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = outputs.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("result="), lines
    return (proc.returncode, json.loads((tmp_path / "results.json").read_text()), lines[0].removeprefix("result="),
            summary.read_text())


def test_released_kit_grades_on_its_own_and_reports_to_classroom(student_grade, released, tmp_path):
    """The student's installed `grade`, run as the workflow runs it, grades the stubs 0 and the
    reference in full, with no solutions/ in reach; its step output is what Classroom's reporter
    reads, and sends Classroom the same score out of the course's points."""
    code, stubs, result, _ = grade_as_the_workflow_does(student_grade, released, tmp_path / "stubs")
    assert code == 1 and stubs["score"] == 0
    assert reporter_view(result) == (0, 100, True)
    for path in SOLUTIONS.glob("*.py"):
        shutil.copy(path, released / "exercises" / "backprop" / path.name)
    try:
        code, full, result, summary = grade_as_the_workflow_does(student_grade, released, tmp_path / "full")
    finally:
        for path in SOLUTIONS.glob("*.py"):  # put the stubs back for the other tests
            shutil.copy(EXERCISES / path.name, released / "exercises" / "backprop" / path.name)
    assert code == 0 and full["score"] == 100 and "| **total** | **100.00 / 100.00** |" in summary
    assert "not compared with the reference" in json.dumps(full)  # no solutions/ in a release
    assert reporter_view(result) == (100, 100, False)
    tests = json.loads(base64.b64decode(result))["tests"]
    assert [(t["name"], t["score"], t["max_score"]) for t in tests] == \
        [(t["name"], t["score"], t["max_score"]) for t in full["tests"]]  # one entry per check, its own points


def lint(path, schema="vendor.github-workflows"):
    """Both linters on a workflow or Dependabot file: (exit code of each, their output)."""
    checked = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", schema, str(path)],
                             capture_output=True, text=True)
    audit = subprocess.run([str(BIN / "zizmor"), "--offline", "--no-progress", str(path)],
                           capture_output=True, text=True)
    return (checked.returncode, audit.returncode), checked.stdout + checked.stderr + audit.stdout + audit.stderr


def steps(workflow_text):
    return yaml.safe_load(workflow_text)["jobs"]["run-autograding-tests"]["steps"]


def test_workflow_lints_clean_and_does_what_the_course_needs(released):
    workflow = released / ".github" / "workflows" / "grade.yml"
    codes, output = lint(workflow)
    assert codes == (0, 0), output
    text = workflow.read_text()
    assert "pull_request:" in text and "--format github" in text and "--pass-mark" in text
    assert "upload-artifact" in text and "grade-report/" in text
    assert re.search(r"--results-json \S+ --junit-xml \S+", text)
    # named as the workflow Classroom writes, and run when Classroom asks
    tree = yaml.safe_load(text)
    assert tree["name"] == "Autograding Tests" and list(tree["jobs"]) == ["run-autograding-tests"]
    assert "repository_dispatch" in tree[True]  # YAML 1.1 reads the key `on` as True
    # Classroom's reporter gets the grade step's output under <STEP ID>_RESULTS, and that id as runners
    by_id = {step.get("id"): step for step in steps(text)}
    grade = by_id["grade"]
    assert grade["run"].startswith("grade check --format github --pass-mark")
    [reporter] = [s for s in steps(text) if s.get("uses", "").startswith(REPORTER + "@")]
    assert reporter["with"] == {"runners": "grade"}
    assert reporter["env"] == {"GRADE_RESULTS": "${{ steps.grade.outputs.result }}"}
    assert "!cancelled()" in reporter["if"]  # it reports a score below the pass mark too


# The pin of each action the workflow uses: the commit its release tag names and the runtime its
# action.yml declares there, read with git from each action's repository (August 2026).
REPORTER = "classroom-resources/autograding-grading-reporter"
PINNED = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1", "node24"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0", "node24"),
    "actions/cache": ("27d5ce7f107fe9357f9df03efb73ab90386fccae", "v5.0.5", "node24"),
    "actions/upload-artifact": ("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0", "node24"),
    # v1, its only release, declares node20, and no later commit declares node24 (its issue #19
    # asks, unanswered). Runners run a node20 action on Node 24 (actions/runner's HandlerFactory).
    REPORTER: ("d13b5912daf5042ac1b71bc38bdb4a6bcd61d8ca", "v1", "node20"),
}
FIRST_NODE24 = {"actions/checkout": 5, "actions/setup-python": 6, "actions/cache": 5, "actions/upload-artifact": 6}
USES = re.compile(r"^\s*(?:- )?uses: (\S+?)@(\S+)(?: # (v\d\S*))?$", re.M)


def pin_problems(text):
    """What is wrong with the workflow's pins: each action at a full commit hash with its version
    in a comment, the hash and version as verified in PINNED, on Node 24 (the reporter aside)."""
    uses = USES.findall(text)
    problems = [] if len(uses) == sum("uses" in s for s in steps(text)) else ["a uses: line this scan cannot read"]
    for action, ref, version in uses:
        if not re.fullmatch(r"[0-9a-f]{40}", ref):
            problems.append(f"{action}@{ref}: not a full commit hash")
        elif (ref, version) != PINNED.get(action, (None, None))[:2]:
            problems.append(f"{action}@{ref} # {version}: not a release verified in PINNED")
        if action != REPORTER and not (version and int(version[1:].split(".")[0]) >= FIRST_NODE24.get(action, 1e9)):
            problems.append(f"{action} {version}: not a major version that runs on Node 24")
    return problems + [f"{action}: in PINNED, not used" for action in set(PINNED) - {a for a, _, _ in uses}]


def test_every_action_is_pinned_to_a_verified_node24_release(released):
    text = (released / ".github" / "workflows" / "grade.yml").read_text()
    assert pin_problems(text) == []
    assert all(runtime == "node24" for action, (_, _, runtime) in PINNED.items() if action != REPORTER)
    # test the tester: the Node 20 pins this replaced, a tag, a hash with the wrong version
    old = text.replace("actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae # v5.0.5",
                       "actions/cache@5a3ec84eff668545956fd18022155c47e93e2684 # v4.2.3")
    assert pin_problems(old) == ["actions/cache@5a3ec84eff668545956fd18022155c47e93e2684 # v4.2.3: not a release "
                                 "verified in PINNED", "actions/cache v4.2.3: not a major version that runs on Node 24"]
    assert "not a full commit hash" in pin_problems(re.sub(r"checkout@\w+", "checkout@v7", text))[0]
    assert pin_problems(text.replace("# v7.0.0", "# v6.0.0", 1))
    assert pin_problems(text + "      - uses: some/action@" + "0" * 40 + " # v1\n")


def test_dependabot_keeps_the_pins_current(released):
    config = released / ".github" / "dependabot.yml"
    codes, output = lint(config, "vendor.dependabot")
    assert codes == (0, 0), output
    [update] = yaml.safe_load(config.read_text())["updates"]
    assert update["package-ecosystem"] == "github-actions" and update["directory"] == "/"
    assert update["schedule"]["interval"] == "weekly"


@pytest.mark.parametrize("breakage, linter", [
    (lambda t: t.replace("interval: weekly", "interval: fortnightly"), 0),
    (lambda t: t.replace("package-ecosystem: github-actions", "package-ecosystem: github-action"), 0),
    (lambda t: re.sub(r"    cooldown:\n.*\n", "", t), 1),  # new releases proposed the day they appear
])
def test_linters_fail_a_broken_dependabot_config(released, tmp_path, breakage, linter):
    broken = tmp_path / "dependabot.yml"
    text = (released / ".github" / "dependabot.yml").read_text()
    broken.write_text(breakage(text))
    assert broken.read_text() != text
    codes, output = lint(broken, "vendor.dependabot")
    assert codes[linter] != 0, output


@pytest.mark.parametrize("breakage, linter", [
    (lambda t: t.replace("    runs-on: ubuntu-latest\n", ""), 0),  # a job without a runner
    (lambda t: t.replace("timeout-minutes: 20", "timeout-minutes: twenty"), 0),
    (lambda t: re.sub(r"actions/checkout@\w+", "actions/checkout@v4", t), 1),  # a mutable tag
    (lambda t: t.replace("run: grade fetch-data", "run: echo ${{ github.event.pull_request.title }}"), 1),
    (lambda t: re.sub(r"grading-reporter@\w+", "grading-reporter@v1", t), 1),  # the reporter too
])
def test_linters_fail_a_broken_workflow(released, tmp_path, breakage, linter):
    broken = tmp_path / "grade.yml"
    text = (released / ".github" / "workflows" / "grade.yml").read_text()
    broken.write_text(breakage(text))
    assert broken.read_text() != text
    codes, output = lint(broken)
    assert codes[linter] != 0, output


def grader_imports(source):
    """(grader module, the top-level function it is imported in, or None) for each import of a
    grader module in source, at any depth."""
    found = []

    def visit(node, where):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ImportFrom) and (child.module or "").split(".")[0] == "grader":
                for alias in child.names:  # `from grader.platforms import release` imports a module
                    module = f"{child.module}.{alias.name}"
                    path = ROOT.joinpath(*module.split("."))
                    found.append((module if path.with_suffix(".py").is_file() or path.is_dir() else child.module,
                                  where))
            elif isinstance(child, ast.Import):
                found.extend((alias.name, where) for alias in child.names if alias.name.startswith("grader."))
            top = where is None and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            visit(child, child.name if top else where)

    visit(ast.parse(source), None)
    return found


# cli.py's functions that may import what a release leaves out: its instructor-only commands.
INSTRUCTORS_FUNCTIONS = {"generate", "require_generated", "release", "export_gradescope", "batch"}


def missing_imports(sources, root):
    """(file, module, function) for each import, in sources ({path under root: text}), of a grader
    module that is not under root, outside cli.py's instructor-only commands."""
    def exists(module):
        path = root.joinpath(*module.split("."))
        return path.with_suffix(".py").is_file() or path.is_dir()

    return [(name, module, where) for name, text in sorted(sources.items()) for module, where in grader_imports(text)
            if not exists(module) and not (name == "grader/cli.py" and where in INSTRUCTORS_FUNCTIONS)]


def test_release_leaves_out_the_instructors_code_and_needs_none_of_it(released):
    shipped = {p.relative_to(released).as_posix() for p in released.rglob("*")}
    assert not shipped & set(INSTRUCTOR_ONLY) and not any(s.startswith("grader/platforms/templates/") for s in shipped)
    assert all((ROOT / name).exists() for name in INSTRUCTOR_ONLY)  # each names something real
    # cli.py stands in for exactly the commands whose modules are left out
    modules = {p.removeprefix("grader/").removesuffix(".py").replace("/", ".") for p in INSTRUCTOR_ONLY}
    assert set(cli.INSTRUCTOR_ONLY.values()) <= {m for m in modules} | {f"authoring.{m}" for m in ("generate",)}
    assert all(any(m == left or m.startswith(left + ".") for left in modules) for m in cli.INSTRUCTOR_ONLY.values())
    sources = {p.relative_to(released).as_posix(): p.read_text() for p in (released / "grader").rglob("*.py")}
    assert missing_imports(sources, released) == []
    # test the tester: the instructor-only commands do import left-out modules, and a module-level
    # import of one anywhere else is found
    assert {where for module, where in grader_imports(sources["grader/cli.py"]) if module in
            ("grader.authoring.generate", "grader.platforms.release", "grader.platforms.gradescope",
             "grader.platforms.batch")} == INSTRUCTORS_FUNCTIONS
    planted = {**sources, "grader/reports/formats.py": "from grader.platforms.gradescope import export\n"
               + sources["grader/reports/formats.py"]}
    assert missing_imports(planted, released) == [("grader/reports/formats.py", "grader.platforms.gradescope", None)]


def test_release_refuses_a_folder_with_files_and_leaves_nothing_behind(tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    proc = subprocess.run([*GRADE, "release", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 2 and "already exists and is not an empty folder" in proc.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_release_and_bundle_refuse_stale_generated_files(tmp_path):
    """Stubs older than the reference would ship old blanks: both commands stop and name them."""
    kit = tmp_path / "kit"
    for name in ("solutions", "exercises", "hidden", "notebooks", "datasets", "grader"):
        shutil.copytree(ROOT / name, kit / name, ignore=shutil.ignore_patterns("__pycache__", "mnist"))
    for name in ("course.yaml", "pyproject.toml", ".gitignore"):
        shutil.copy(ROOT / name, kit / name)
    path = kit / "solutions" / "backprop" / "activations.py"
    path.write_text(path.read_text().replace("Hint: np.maximum", "Hint: numpy's maximum"))
    for command in (["release", str(tmp_path / "out")], ["export", "gradescope", str(tmp_path / "out.zip")]):
        proc = subprocess.run([*GRADE, *command, "--course", str(kit / "course.yaml")], capture_output=True,
                              text=True, cwd=tmp_path, timeout=300)
        assert proc.returncode == 2 and "stale:" in proc.stderr and "exercises/backprop/activations.py" in proc.stderr
        assert "run `grade generate` first" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kit"]


def test_the_student_readme_is_the_student_guide_made_for_the_assignment(released):
    """docs/student-guide.md with backprop's name, folder, tables and pass mark in its
    placeholders: none is left, and the parts table is the assignment's."""
    readme = (released / "README.md").read_text()
    course = config.load(ROOT / "course.yaml", "backprop")
    assert readme_problems(readme, course) == []
    assert "| Weight updates | `updates` | 15 | `exercises/backprop/updates.py` |" in readme
    guide = (ROOT / "docs" / "student-guide.md").read_text()
    assert guide.split("## The rules", 1)[1] == readme.split("## The rules", 1)[1]  # the same words
    # test the tester: the guide as it stands is not a README
    assert readme_problems(guide, course)


def test_the_student_readme_says_how_to_grade_offline(released):
    """A student without the internet must learn the fix from the README, not from a dead end."""
    readme = (released / "README.md").read_text()
    assert "--data-dir DIR" in readme and "GRADE_DATA_DIR=DIR" in readme and "not graded" in readme
