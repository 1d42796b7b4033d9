"""solutions/ -> exercises/: stubs in place of every marked body, and nothing leaks."""
import subprocess

import pytest

from grader.authoring.generate import BEGIN, END, GenerateError, strip_solutions, student_files
from helpers import EXERCISES, GRADE, ROOT, SOLUTIONS, copy_of, course_blanks

BLANKS = course_blanks()


def solution_lines(text):
    lines, inside = [], False
    for line in text.splitlines():
        if line.strip() == BEGIN:
            inside = True
        elif line.strip() == END:
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def test_no_solution_line_reaches_exercises():
    checked = 0
    for path in SOLUTIONS.glob("*.py"):
        exercise = {line.strip() for line in (EXERCISES / path.name).read_text().splitlines()}
        for line in solution_lines(path.read_text()):
            assert line not in exercise, f"{path.name}: solution line {line!r} is in exercises/"
            checked += 1
    assert checked >= 15  # the reference really has bodies to hide


def test_every_blank_is_a_stub_naming_itself():
    text = "".join((EXERCISES / f"{b.module}.py").read_text() for b in BLANKS.values())
    for name in BLANKS:
        assert f'raise NotImplementedError("{name} is not implemented yet")' in text
    assert BEGIN not in text and END not in text


def test_exercises_are_up_to_date_and_generation_is_deterministic():
    files = student_files(SOLUTIONS)
    assert files == student_files(SOLUTIONS)
    for rel, text in files.items():
        assert (EXERCISES / rel).read_text() == text, f"exercises/{rel} is stale: run grade generate"


@pytest.mark.slow
def test_generate_check_flags_a_stale_exercise(kit):
    ok = generate_in(kit, "--check")
    assert ok.returncode == 0, ok.stderr
    exercises = kit / "exercises" / "backprop"
    (exercises / "updates.py").write_text((exercises / "updates.py").read_text() + "\n# edited\n")
    stale = generate_in(kit, "--check")
    assert stale.returncode == 1
    assert "exercises/backprop/updates.py" in stale.stderr and "stale" in stale.stderr


@pytest.mark.slow
def test_generate_writes_missing_files(kit):
    exercises = kit / "exercises" / "backprop"
    (exercises / "backprop.py").unlink()
    done = generate_in(kit, "--assignment", "backprop")
    assert done.returncode == 0, done.stderr
    assert f"wrote {exercises / 'backprop.py'}" in done.stdout
    assert sorted(p.name for p in exercises.glob("*.py")) == sorted(p.name for p in EXERCISES.glob("*.py"))


@pytest.mark.parametrize("source, problem", [
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "never closed"),
    ("def f():\n    return 1\n    ### END SOLUTION\n", "without a"),
    ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", "outside any function"),
    ("def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION\n", "inside the block"),
    ("def f(:\n", "not valid Python"),
])
def test_bad_markers_name_the_file_and_line(source, problem):
    with pytest.raises(GenerateError, match=rf"x\.py:\d+: .*{problem}"):
        strip_solutions(source, "x.py")


def test_stub_keeps_indentation_and_docstring():
    source = 'def f(z):\n    """Doc."""\n    ### BEGIN SOLUTION\n    return z\n    ### END SOLUTION\n'
    assert strip_solutions(source, "x.py") == ('def f(z):\n    """Doc."""\n    # YOUR CODE HERE\n'
                                               '    raise NotImplementedError("f is not implemented yet")\n')


@pytest.fixture
def kit(tmp_path):
    """A course folder of its own (so the kit's files stay as they are), generated once."""
    import shutil

    root = tmp_path / "kit"
    shutil.copytree(ROOT / "solutions", root / "solutions", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "course.yaml", root / "course.yaml")
    shutil.copytree(ROOT / "hidden", root / "hidden")
    done = generate_in(root)
    assert done.returncode == 0, done.stderr
    assert (root / "generated.sha256").is_file() and (root / "exercises" / "backprop" / "updates.py").is_file()
    return root


def generate_in(root, *args):
    return subprocess.run([*GRADE, "generate", "--course", str(root / "course.yaml"), *args],
                          cwd=root, capture_output=True, text=True, timeout=300)


def change_the_reference(root):
    """An instructor's edit to a solution: updates.py's stub changes with it."""
    path = root / "solutions" / "backprop" / "updates.py"
    path.write_text(path.read_text().replace('"""Weight gradients and the SGD step (part: updates)."""',
                                             '"""Weight gradients and the SGD step (part: updates). Revised."""'))


@pytest.mark.slow
def test_generate_never_overwrites_someones_edits(kit):
    """A newcomer filled in exercises/updates.py in the kit itself; then the reference changed.
    grade generate refuses, names the file and writes nothing; --force overwrites."""
    mine = kit / "exercises" / "backprop" / "updates.py"
    mine.write_text(mine.read_text().replace("# YOUR CODE HERE", "return delta @ a_prev.T, None  # my work", 1))
    edited = mine.read_text()
    change_the_reference(kit)
    refused = generate_in(kit)
    assert refused.returncode == 2
    assert f"not overwriting {mine}" in refused.stderr and "--force" in refused.stderr, refused.stderr
    assert mine.read_text() == edited  # the work is there
    assert "Revised" not in (kit / "notebooks" / "source" / "backprop" / "backprop.ipynb").read_text()  # nothing half done
    forced = generate_in(kit, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "Revised" in mine.read_text() and "my work" not in mine.read_text()


@pytest.mark.slow
def test_generate_updates_what_it_wrote_itself(kit):
    """Test the tester: the same change with exercises/ untouched regenerates it, no --force."""
    change_the_reference(kit)
    done = generate_in(kit)
    assert done.returncode == 0, done.stderr
    assert "Revised" in (kit / "exercises" / "backprop" / "updates.py").read_text()
    assert generate_in(kit, "--check").returncode == 0


@pytest.mark.slow
def test_without_a_record_generate_overwrites_nothing_that_differs(kit):
    (kit / "generated.sha256").unlink()
    change_the_reference(kit)
    refused = generate_in(kit)
    assert refused.returncode == 2 and "no generated.sha256" in refused.stderr


def test_the_kits_record_is_current():
    """generated.sha256 is committed with the kit, so a fresh clone protects its first edits."""
    from grader.authoring.generate import read_manifest, sha256

    recorded = read_manifest(ROOT / "generated.sha256")
    assert recorded and "exercises/backprop/activations.py" in recorded
    for name, digest in recorded.items():
        assert sha256(ROOT / name) == digest, f"{name} differs from generated.sha256: run grade generate"


@pytest.mark.slow
def test_inputs_the_reference_fails_on_are_named_by_their_key(kit):
    """Sizes that do not fit together (delta_next's rows are not W_next's) made generate stop with
    the reference's traceback, naming no course.yaml key (red team); now the key, the shapes and
    the reference's error, exit 2, and no vectors file is half written."""
    path = kit / "course.yaml"
    path.write_text(path.read_text().replace('"normal(k, n)", "normal(k, m)"', '"normal(k, n)", "normal(j, m)"'))
    before = (kit / "exercises" / "backprop" / "vectors.json").read_bytes()
    done = generate_in(kit)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "assignments.backprop.blanks.hidden_delta.inputs: the reference's hidden_delta fails on the inputs " \
        "declared there (6x4, 3x5, 4x5): hidden_delta raised ValueError: matmul" in done.stderr, done.stderr
    assert (kit / "exercises" / "backprop" / "vectors.json").read_bytes() == before
