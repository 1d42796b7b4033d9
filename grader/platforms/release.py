"""`grade release OUT_DIR`: the student repository, built from the instructor's.

It is one assignment's: it holds what a student needs to work on it and to be graded as they
will be -- exercises/<id>/ (with the public test vectors), the grader, course.yaml with this
assignment alone and without the path to the reference, pyproject.toml, a README made from
the student guide (docs/student-guide.md; see student_readme), the CI workflow and the
Dependabot config that keeps its actions current -- and, by construction, nothing else:
solutions/, hidden/, notebooks/ (nbgrader's source holds the solutions), the other
assignments, the kit's tests and caches are never copied, because only the listed paths are.
Nor is the instructor's side of the grader (INSTRUCTOR_ONLY): the student's `grade` has
check, train and fetch-data, and its other commands say they are the instructor's.
"""

from __future__ import annotations

import ast
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
# What builds the course from solutions/ (authoring/: generate and the notebook), packages it
# (release, gradescope, and their templates) and grades a class (batch, and cluster for Dask):
# a student's `grade` imports none of it.
INSTRUCTOR_ONLY = (
    "grader/authoring",
    "grader/platforms/release.py",
    "grader/platforms/gradescope.py",
    "grader/platforms/batch.py",
    "grader/platforms/cluster.py",
    "grader/platforms/templates",
)


class ReleaseError(GradeError):
    """The release cannot be written where or as asked (exit 2)."""


def student_course_yaml(course: Course) -> str:
    """course.yaml for students: this assignment alone, minus training.reference (solutions/ is
    not there)."""
    text = only_assignment(course)
    return "".join(line for line in text.splitlines(keepends=True) if not re.match(r"\s+reference\s*:", line))


# The student guide is the release's README: written once, for the kit's docs and for every
# student repository, so the two never drift (the syntax: the comment at the top of the guide).
GUIDE = Path("docs") / "student-guide.md"  # relative to the course folder
COMMENT = re.compile(r"<!--(.*?)-->", re.S)
MARKER = re.compile(r"\s*(/?)([a-z][a-z_-]*)\s*")  # a comment holding only a name opens or closes a placeholder
KIT_ONLY = "kit-only"  # the placeholder whose text the release leaves out
NETWORK_WORDS = {
    "relu": "ReLU",
    "sigmoid": "the sigmoid",
    "softmax": "softmax",
    "cross_entropy": "the mean cross-entropy over the batch",
    "mse": "the mean squared error over the batch",
}


def markdown_cell(text: str) -> str:
    """text made safe for a Markdown table cell: one line, and no character that GitHub would
    read as a cell border, emphasis, a tag or a link."""
    return re.sub(r"([\\`*_|<>\[\]])", r"\\\1", " ".join(text.split()))


def blank_summary(course: Course, name: str) -> tuple[str, str]:
    """(signature, the first paragraph of its docstring) of blank name, read from the student's
    own file in exercises/<id>/, so the table says what their file says."""
    module = course.blanks[name].module
    path = course.exercises / f"{module}.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            summary = (ast.get_docstring(node) or "").split("\n\n")[0]
            return f"{name}({ast.unparse(node.args)})", summary
    raise ReleaseError(f"{path}: no function {name}, which course.yaml declares as a blank")


def blanks_table(course: Course) -> str:
    """Each blank, its file and the first line of its docstring, in course.yaml's order."""
    rows = ["| blank | file | what it computes |", "| --- | --- | --- |"]
    for name, blank in course.blanks.items():
        signature, summary = blank_summary(course, name)
        rows.append(f"| `{signature}` | `{blank.module}.py` | {markdown_cell(summary)} |")
    return "\n".join(rows)


def part_files(course: Course, part_id: str) -> str:
    """The files a part grades, or, for a part that trains, what it grades instead."""
    folder = f"exercises/{course.assignment_id}"
    modules = sorted({b.module for b in course.blanks.values() if b.part == part_id})
    if modules:
        return ", ".join(f"`{folder}/{module}.py`" for module in modules)
    if part_id == "experiments":
        titles = "; ".join(experiment.title for experiment in course.experiments)
        return f"none: the experiments ({markdown_cell(titles)}) run with your blanks"
    return f"none: your blanks train the network on MNIST, to {course.mnist_accuracy:.0%} test accuracy"


def parts_table(course: Course) -> str:
    """Each part: its title, the id `grade check --part` takes, its points and its files."""
    rows = ["| part | `--part` | points | your file |", "| --- | --- | --- | --- |"]
    for part in course.parts.values():
        rows.append(f"| {markdown_cell(part.title)} | `{part.id}` | {part.points:g} | {part_files(course, part.id)} |")
    return "\n".join(rows)


def network_words(course: Course) -> str:
    """The network `grade train` trains, in words: which activation each layer uses, the loss."""
    words = {role: NETWORK_WORDS.get(name, name) for role, name in vars(course.network).items()}
    return (
        f"the hidden layers use {words['hidden']}, the output layer uses {words['output']}, and the "
        f"loss is {words['loss']}"
    )


def readme_values(course: Course) -> dict[str, str]:
    """What each placeholder of the guide becomes in this assignment's README."""
    total = sum(p.points for p in course.parts.values())
    return {
        "assignment": course.assignment,
        "course": course.name,
        "folder": f"`exercises/{course.assignment_id}/`",
        "network": network_words(course),
        "blanks": blanks_table(course),
        "parts": parts_table(course),
        "pass_mark": f"{course.pass_mark:g} of the {total:g} points",
        KIT_ONLY: "",
    }


def fill(text: str, values: dict[str, str], source: str | os.PathLike[str]) -> str:
    """text with each placeholder (`<!-- name -->stand-in<!-- /name -->`) replaced by
    values[name] and every other comment (a note for the guide's editors) left out. A
    placeholder that becomes nothing and stood on lines of its own takes those lines with it.
    Raises ReleaseError, naming source and the line, for an unknown name, a placeholder out of
    place or never closed, and a comment never closed."""
    out: list[str] = []
    pos, opened = 0, None  # opened: (name, line, whether it starts its line) of the placeholder being replaced
    for comment in COMMENT.finditer(text):
        line = text.count("\n", 0, comment.start()) + 1
        marker = MARKER.fullmatch(comment[1])
        if marker is None:  # a note: dropped, wherever it is
            if opened is None:
                out.append(text[pos : comment.start()])
        elif marker[2] not in values:
            raise ReleaseError(f"{source}:{line}: unknown placeholder {marker[2]!r}; the known: {', '.join(values)}")
        elif opened is None and not marker[1]:
            out.append(text[pos : comment.start()])
            opened = (marker[2], line, starts_line(text, comment.start()))
        elif opened is not None and marker[1] and marker[2] == opened[0]:
            value = values[opened[0]]
            if not value and opened[2] and text.startswith("\n", comment.end()):
                out[-1] = out[-1].rstrip(" \t")  # the indent of the opening marker's line ...
                pos = comment.end() + 1  # ... and the closing one's newline: the lines go
                opened = None
                continue
            out.append(value)
            opened = None
        else:
            inside = f", inside {opened[0]!r} (line {opened[1]})" if opened else ""
            raise ReleaseError(f"{source}:{line}: {marker[1]}{marker[2]} out of place{inside}")
        pos = comment.end()
    if opened:
        raise ReleaseError(f"{source}:{opened[1]}: placeholder {opened[0]!r} is never closed")
    unclosed = text.find("<!--", pos)  # any before pos are in a comment that closes
    if unclosed >= 0:
        line = text.count("\n", 0, unclosed) + 1
        raise ReleaseError(f"{source}:{line}: a comment is never closed (<!-- without -->)")
    out.append(text[pos:])
    return re.sub(r"\n{3,}", "\n\n", "".join(out)).strip("\n") + "\n"  # where notes stood: one blank line at most


def starts_line(text: str, index: int) -> bool:
    """Is text[index] the first character of its line but for indentation?"""
    return not text[text.rfind("\n", 0, index) + 1 : index].strip()


def student_readme(course: Course, guide: str | os.PathLike[str] | None = None) -> str:
    """The student repository's README: the student guide (docs/student-guide.md in the course
    folder, or guide) with this assignment's name, folder, tables and pass mark in it."""
    path = Path(guide) if guide is not None else course.root / GUIDE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReleaseError(f"{path}: no such file; the release's README is made from the student guide") from None
    return fill(text, readme_values(course), path)


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
    readme = student_readme(course)  # before anything is written: a broken guide stops here
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for path, rel in listed_files(root, shipped, leave_out=INSTRUCTOR_ONLY):
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, tmp / rel)
        (tmp / "course.yaml").write_text(student_course_yaml(course), encoding="utf-8")
        (tmp / "README.md").write_text(readme, encoding="utf-8")
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
