"""Gradescope: `grade export gradescope OUT.zip` builds the autograder bundle, and
`python -m grader.platforms.gradescope` is what its run_autograder runs for each submission.

Gradescope unzips the bundle into /autograder/source, runs setup.sh once to build the image,
then, per submission, /autograder/run_autograder with the student's files in
/autograder/submission; it reads /autograder/results/results.json. The bundle holds the
grader, course.yaml, the reference (for the MNIST weight check) and the hidden vectors:
none of it is visible to students. The submission may be the .py files, a repository with
them in exercises/ (uploaded from GitHub), or the notebook.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.errors import GradeError
from grader.platforms.release import TEMPLATES, listed_files

if TYPE_CHECKING:
    from grader.config import Course

BUNDLED = (
    "grader",
    "pyproject.toml",
    "LICENSE",
    "README.md",
    "course.yaml",
)  # and the assignment's solutions/<id>/, exercises/<id>/vectors.json and hidden/<id>/vectors.json;
# README.md: pyproject.toml names it, and setup.sh pip-installs the bundle


def bundled(course: Course) -> tuple[str, ...]:
    """What the bundle of this assignment holds, relative to the course folder."""
    root = course.root
    given = [course.exercises / f"{m}.py" for m in course.given_modules]  # graded with, never the student's
    return (
        *BUNDLED,
        *(p.relative_to(root).as_posix() for p in (course.solutions, course.vectors, course.hidden_vectors, *given)),
    )


class ExportError(GradeError):
    """The bundle cannot be written as asked (exit 2)."""


def export(
    course: Course, out: str | os.PathLike[str], isolation: str | None = None, seed: int | None = None
) -> list[str]:
    """Write the bundle to out (a .zip), atomically. Returns the names in it. isolation and
    seed, when given, replace course.yaml's `isolation` and `training.seed` in the bundled copy
    only (see bundled_course_yaml)."""
    root, out = course.root, Path(out)
    names = bundled(course)
    missing = [name for name in names if not (root / name).exists()]
    if missing:
        raise ExportError(f"{root}: missing {', '.join(missing)}, which the bundle needs (run `grade generate`?)")
    if out.suffix != ".zip":
        raise ExportError(f"{out}: the bundle is a .zip file")
    course_yaml = bundled_course_yaml(course, isolation, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as bundle:
            for script in ("setup.sh", "run_autograder"):  # at the zip's root, executable
                info = zipfile.ZipInfo(script)
                info.external_attr = 0o755 << 16
                bundle.writestr(info, (TEMPLATES / f"gradescope_{script}").read_text(encoding="utf-8"))
            bundle.writestr("course.yaml", course_yaml)
            for path, rel in listed_files(root, [name for name in names if name != "course.yaml"]):
                bundle.write(path, rel.as_posix())
        os.replace(partial, out)
    except BaseException:
        os.unlink(partial)
        raise
    with zipfile.ZipFile(out) as bundle:
        return bundle.namelist()


def bundled_course_yaml(course: Course, isolation: str | None = None, seed: int | None = None) -> str:
    """course.yaml's text for the bundle: as it is, or with the top-level `isolation` and
    `training.seed` set to these values, line by line, so that its comments stay. The release
    ships course.yaml to students, so a private seed can live only in the bundle's copy. The
    result is read back and checked: a layout this cannot edit (a flow mapping, say) is an
    ExportError naming the key, never a bundle with the old value."""
    from grader import config

    text = config.only_assignment(course)
    if isolation is not None:
        text = set_key(text, None, "isolation", isolation)
    if seed is not None:
        text = set_key(text, "training", "seed", str(seed))
    r, tree = config.read(course.path, text)
    bundle = config.resolve(r, tree, course.assignment_id)
    read = {"isolation": bundle.isolation, "training.seed": bundle.seed}
    for key, wanted in (("isolation", isolation), ("training.seed", seed)):
        got = read[key]
        if wanted is not None and got != wanted:
            raise ExportError(
                f"{course.path}: could not set {key} to {wanted} in the bundled copy (it reads "
                f"{got!r}); write `{key.split('.')[-1]}:` on a line of its own, in block style, and not "
                f"under assignments.{course.assignment_id}"
            )
    return text


def set_key(text: str, section: str | None, key: str, value: str) -> str:
    """text with `key: value` at the top level (section None) or in the block mapping
    `section:`, replacing the key's value and keeping any comment after it; added if absent."""
    lines = text.splitlines(keepends=True)
    start, end, indent = 0, len(lines), ""
    if section is not None:
        heads = [i for i, line in enumerate(lines) if re.match(rf"{section}\s*:\s*(#.*)?$", line.rstrip("\n"))]
        if not heads:
            return text  # no such block: the caller's check says so
        start = heads[0] + 1
        end = next((i for i in range(start, len(lines)) if re.match(r"[^\s#]", lines[i])), len(lines))
        children = [re.match(r"(\s+)\S", line) for line in lines[start:end]]
        indent = next((m.group(1) for m in children if m), "  ")
    pattern = re.compile(rf"({re.escape(indent)}{key}\s*:\s*)([^#\n]*?)(\s*#.*)?$")
    for i in range(start, end):
        match = pattern.match(lines[i].rstrip("\n"))
        if match:
            comment = match.group(3) or ""
            if comment:  # where it was: the comments of a block stay aligned
                width = len(match.group(2)) + len(comment) - len(comment.lstrip())
                comment = " " * max(1, width - len(value)) + comment.lstrip()
            lines[i] = f"{match.group(1)}{value}{comment}\n"
            return "".join(lines)
    if section is None and lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    lines.insert(end, f"{indent}{key}: {value}\n")
    return "".join(lines)


def official_grading_warnings(course: Course, isolation: str | None = None, seed: int | None = None) -> list[str]:
    """What the bundle keeps of course.yaml that official grading should not have, as lines
    for stderr: isolation other than required, and the seed that `grade release` hands out."""
    isolation = isolation or course.isolation
    seed = course.seed if seed is None else seed
    warnings = []
    if isolation != "required":
        how = "never" if isolation == "off" else "only where it can start"
        warnings.append(
            f"warning: {course.path}: isolation is {isolation}, so the bundle runs student code in "
            f"bubblewrap {how}; official grading needs `isolation: required` (pass --isolation "
            "required, or set it in course.yaml)"
        )
    if seed == course.seed:
        warnings.append(
            f"warning: {course.path}: training.seed is {seed}, the seed `grade release` gives students, "
            "so weights saved from a correct run with it pass the MNIST weight check; pass --seed N "
            "with a number you keep private (it is set in the bundle's copy only)"
        )
    return warnings


def failure(message: str, seconds: float = 0.0) -> dict[str, Any]:
    """results.json for a submission that could not be graded at all."""
    return {"score": 0.0, "execution_time": round(seconds, 3), "output": message, "tests": []}


def run(autograder: str | os.PathLike[str]) -> int:
    """Grade autograder/submission into autograder/results/results.json, whatever happens."""
    from grader.config import load
    from grader.grading import intake
    from grader.platforms import nbgrader

    autograder = Path(autograder)
    source, results = autograder / "source", autograder / "results"
    results.mkdir(parents=True, exist_ok=True)
    out = results / "results.json"
    course = load(source / "course.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        # The upload is the student's: its regular files are copied here and graded from the copy
        # (a link to /autograder/source/solutions is not the student's code).
        try:
            prepared = intake.prepare(autograder / "submission", Path(tmp) / "submission", course)
        except intake.SubmissionError as exc:
            files = ", ".join(f"{m}.py" for m in course.blank_modules)
            out.write_text(
                json.dumps(
                    failure(
                        f"Nothing to grade: upload {files} (or your repository, with them "
                        f"in exercises/{course.assignment_id}/, or your notebook {course.assignment_id}.ipynb).\n"
                        f"({exc})"
                    )
                )
            )
            return 1
        except nbgrader.NotebookError as exc:
            out.write_text(json.dumps(failure(f"Your notebook could not be read: {exc}")))
            return 1
        data = os.environ.get("GRADE_DATA_DIR") or str(source / "datasets" / "mnist")
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "grader.cli",
                "check",
                str(prepared.folder),
                "--format",
                "json",
                "--output",
                str(out),
                "--hidden",
                str(course.hidden_vectors),
                "--course",
                str(course.path),
                "--assignment",  # the bundle's one assignment, whatever GRADE_ASSIGNMENT says
                course.assignment_id,
                "--data-dir",
                data,
                "--report-dir",
                str(Path(tmp) / "report"),
            ],
            capture_output=True,
            text=True,
            cwd=tmp,
        )
        kept = Path(tmp) / "report" / "output.txt"  # what the student's code printed: read before tmp goes
        printed = (kept, kept.read_bytes()) if kept.is_file() else None
    if proc.returncode not in (0, 1) or not out.is_file():
        out.write_text(
            json.dumps(failure("The autograder could not run; please tell your instructor.\n" + proc.stderr[-2000:]))
        )
        return 1
    if prepared.notes or printed:
        graded = json.loads(out.read_text(encoding="utf-8"))
        graded["output"] = "\n".join([*prepared.notes, graded["output"]]).strip()  # what of the upload was left out
        if printed:
            graded["output"] = with_printed(graded["output"], *printed)
        out.write_text(json.dumps(graded, indent=2) + "\n")
    return 0


def with_printed(output: str, path: Path, printed: bytes) -> str:
    """results.json's output with what the student's code printed during the public checks
    added at its end. `grade check` keeps that in the report folder and names it ("see PATH"),
    but here the folder is a temporary one, gone when run() returns, and Gradescope shows
    students only results.json: the text goes where they see it. It is at most
    limits.output_kb (grading/session.py cuts it and says how much more there was); control characters
    are shown as escapes. The hidden checks' output was never kept."""
    from grader.reports.formats import printable

    text = printable(printed.decode("utf-8", "replace")).rstrip("\n")
    output = output.replace(f"see {path}", "shown at the end of this output")
    return (
        f"{output}\n\n--- what your code printed during the checks ---\n{text}\n--- end of what your code printed ---"
    )


if __name__ == "__main__":
    sys.exit(run(sys.argv[1] if len(sys.argv) > 1 else "/autograder"))
