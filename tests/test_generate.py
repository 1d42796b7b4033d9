"""solutions/ -> exercises/: stubs in place of every marked body, and nothing leaks."""
import subprocess

import pytest

from grader.blanks import BLANKS
from grader.generate import BEGIN, END, GenerateError, strip_solutions, student_files
from helpers import EXERCISES, GRADE, ROOT, SOLUTIONS, copy_of


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


def test_generate_check_flags_a_stale_exercise(tmp_path):
    exercises = copy_of(EXERCISES, tmp_path / "exercises")
    ok = subprocess.run([*GRADE, "generate", "--exercises", str(exercises), "--check"], cwd=ROOT,
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    (exercises / "updates.py").write_text((exercises / "updates.py").read_text() + "\n# edited\n")
    stale = subprocess.run([*GRADE, "generate", "--exercises", str(exercises), "--check"], cwd=ROOT,
                           capture_output=True, text=True)
    assert stale.returncode == 1
    assert "updates.py" in stale.stderr and "stale" in stale.stderr


def test_generate_writes_missing_files(tmp_path):
    exercises = tmp_path / "exercises"
    done = subprocess.run([*GRADE, "generate", "--exercises", str(exercises)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
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
