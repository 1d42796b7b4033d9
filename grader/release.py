"""`grade release OUT_DIR`: the student repository, built from the instructor's.

It is one assignment's: it holds what a student needs to work on it and to be graded as they
will be -- exercises/<id>/ (with the public test vectors), the grader, course.yaml with this
assignment alone and without the path to the reference, pyproject.toml, a student README,
the CI workflow and the Dependabot config that keeps its actions current -- and, by
construction, nothing else: solutions/, hidden/, notebooks/ (nbgrader's source holds the
solutions), the other assignments, the kit's tests and caches are never copied, because only
the listed paths are. Nor is the instructor's side of the grader (INSTRUCTOR_ONLY): the
student's `grade` has check, train and fetch-data, and its other commands say they are the
instructor's.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from grader.config import only_assignment
from grader.errors import GradeError

if TYPE_CHECKING:
    from grader.config import Course

TEMPLATES = Path(__file__).resolve().parent / "templates"
SHIPPED = ("grader", "pyproject.toml", "LICENSE", ".gitignore")  # and the assignment's exercises/<id>/
SKIPPED = ("__pycache__", ".pyc", ".egg-info")
# What builds the course from solutions/ (generate), packages it (release, gradescope, and their
# templates) and grades a class (batch): a student's `grade` imports none of it.
INSTRUCTOR_ONLY = (
    "grader/generate.py",
    "grader/release.py",
    "grader/gradescope.py",
    "grader/batch.py",
    "grader/templates",
)


class ReleaseError(GradeError):
    """The release cannot be written where or as asked (exit 2)."""


def student_course_yaml(course: Course) -> str:
    """course.yaml for students: this assignment alone, minus training.reference (solutions/ is
    not there)."""
    text = only_assignment(course)
    return "".join(line for line in text.splitlines(keepends=True) if not re.match(r"\s+reference\s*:", line))


def student_readme(course: Course) -> str:
    parts = "\n".join(
        f"| {p.title} | {p.points:g} | `exercises/{course.assignment_id}/{p.id}.py` |"
        if p.id != "mnist"
        else f"| {p.title} | {p.points:g} | trains `exercises/{course.assignment_id}/network.py` with your blanks |"
        for p in course.parts.values()
    )
    total = sum(p.points for p in course.parts.values())
    return (
        (TEMPLATES / "README.md")
        .read_text(encoding="utf-8")
        .format(
            assignment=course.assignment,
            course=course.name,
            parts=parts,
            pass_mark=course.pass_mark,
            total=total,
            id=course.assignment_id,
        )
    )


def listed_files(root: Path, names: Iterable[str], leave_out: Iterable[str] = ()) -> Iterator[tuple[Path, Path]]:
    """(path, path relative to root) of every file the listed files and folders hold, caches,
    build leftovers and the files and folders in leave_out aside."""
    left_out = [Path(name) for name in leave_out]
    for name in names:
        source = root / name
        for path in sorted(source.rglob("*")) if source.is_dir() else [source]:
            rel = path.relative_to(root)
            if (
                path.is_file()
                and not any(part.endswith(SKIPPED) for part in rel.parts)
                and not any(rel == out or out in rel.parents for out in left_out)
            ):
                yield path, rel


def release(course: Course, out: str | os.PathLike[str]) -> list[Path]:
    """Write the student repository to out (new or empty), all or nothing. Returns its files."""
    root, out = course.root, Path(out).resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ReleaseError(f"{out}: already exists and is not an empty folder; choose a new one")
    if out == root or (root in out.parents and out.parts[len(root.parts)] in ("solutions", "hidden")):
        raise ReleaseError(f"{out}: inside the instructor's repository's private folders")
    shipped = (*SHIPPED, course.exercises.relative_to(root).as_posix())
    missing = [name for name in shipped if not (root / name).exists()]
    if missing:
        raise ReleaseError(f"{root}: missing {', '.join(missing)}, which the release needs")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for path, rel in listed_files(root, shipped, leave_out=INSTRUCTOR_ONLY):
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, tmp / rel)
        (tmp / "course.yaml").write_text(student_course_yaml(course), encoding="utf-8")
        (tmp / "README.md").write_text(student_readme(course), encoding="utf-8")
        workflow = tmp / ".github" / "workflows" / "grade.yml"
        workflow.parent.mkdir(parents=True)
        shutil.copy2(TEMPLATES / "grade.yml", workflow)
        shutil.copy2(TEMPLATES / "dependabot.yml", tmp / ".github" / "dependabot.yml")
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return sorted(p for p in out.rglob("*") if p.is_file())
