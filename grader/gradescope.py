"""Gradescope: `grade export gradescope OUT.zip` builds the autograder bundle, and
`python -m grader.gradescope` is what its run_autograder runs for each submission.

Gradescope unzips the bundle into /autograder/source, runs setup.sh once to build the image,
then, per submission, /autograder/run_autograder with the student's files in
/autograder/submission; it reads /autograder/results/results.json. The bundle holds the
grader, course.yaml, the reference (for the MNIST weight check) and the hidden vectors:
none of it is visible to students. The submission may be the .py files, a repository with
them in exercises/ (uploaded from GitHub), or the notebook.
"""
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from grader.blanks import MODULES
from grader.release import TEMPLATES, listed_files

BUNDLED = ("grader", "solutions", "hidden/vectors.json", "datasets/mnist.json", "pyproject.toml", "README.md",
           "course.yaml")  # README.md: pyproject.toml names it, and setup.sh pip-installs the bundle


class ExportError(Exception):
    pass


def export(course, out):
    """Write the bundle to out (a .zip), atomically. Returns the names in it."""
    root, out = course.root, Path(out)
    missing = [name for name in BUNDLED if not (root / name).exists()]
    if missing:
        raise ExportError(f"{root}: missing {', '.join(missing)}, which the bundle needs (run `grade generate`?)")
    if out.suffix != ".zip":
        raise ExportError(f"{out}: the bundle is a .zip file")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as bundle:
            for script in ("setup.sh", "run_autograder"):  # at the zip's root, executable
                info = zipfile.ZipInfo(script)
                info.external_attr = 0o755 << 16
                bundle.writestr(info, (TEMPLATES / f"gradescope_{script}").read_text(encoding="utf-8"))
            for path, rel in listed_files(root, BUNDLED):
                bundle.write(path, rel.as_posix())
        os.replace(partial, out)
    except BaseException:
        os.unlink(partial)
        raise
    with zipfile.ZipFile(out) as bundle:
        return bundle.namelist()


def failure(message, seconds=0.0):
    """results.json for a submission that could not be graded at all."""
    return {"score": 0.0, "execution_time": round(seconds, 3), "output": message, "tests": []}


def run(autograder):
    """Grade autograder/submission into autograder/results/results.json, whatever happens."""
    from grader import intake, notebook
    from grader.config import load

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
            files = ", ".join(f"{m}.py" for m in MODULES)
            out.write_text(json.dumps(failure(f"Nothing to grade: upload {files} (or your repository, with them "
                                              f"in exercises/, or your notebook {course.assignment_id}.ipynb).\n"
                                              f"({exc})")))
            return 1
        except notebook.NotebookError as exc:
            out.write_text(json.dumps(failure(f"Your notebook could not be read: {exc}")))
            return 1
        data = os.environ.get("GRADE_DATA_DIR") or str(source / "datasets" / "mnist")
        proc = subprocess.run(
            [sys.executable, "-m", "grader.cli", "check", str(prepared.folder), "--format", "json", "--output",
             str(out), "--hidden", str(source / "hidden" / "vectors.json"), "--course", str(course.path),
             "--data-dir", data, "--report-dir", str(Path(tmp) / "report")],
            capture_output=True, text=True, cwd=tmp)
        printed = Path(tmp) / "report" / "output.txt"
        printed = (printed, printed.read_bytes()) if printed.is_file() else None  # the folder goes next
    if proc.returncode not in (0, 1) or not out.is_file():
        out.write_text(json.dumps(failure("The autograder could not run; please tell your instructor.\n"
                                          + proc.stderr[-2000:])))
        return 1
    if prepared.notes or printed:
        graded = json.loads(out.read_text(encoding="utf-8"))
        graded["output"] = "\n".join([*prepared.notes, graded["output"]]).strip()  # what of the upload was left out
        if printed:
            graded["output"] = with_printed(graded["output"], *printed)
        out.write_text(json.dumps(graded, indent=2) + "\n")
    return 0


def with_printed(output, path, printed):
    """results.json's output with what the student's code printed during the public checks
    added at its end. `grade check` keeps that in the report folder and names it ("see PATH"),
    but here the folder is a temporary one, gone when run() returns, and Gradescope shows
    students only results.json: the text goes where they see it. It is at most
    limits.output_kb (grading.py cuts it and says how much more there was); control characters
    are shown as escapes. The hidden checks' output was never kept."""
    from grader.report import printable

    text = printable(printed.decode("utf-8", "replace")).rstrip("\n")
    output = output.replace(f"see {path}", "shown at the end of this output")
    return f"{output}\n\n--- what your code printed during the checks ---\n{text}\n--- end of what your code printed ---"


if __name__ == "__main__":
    sys.exit(run(sys.argv[1] if len(sys.argv) > 1 else "/autograder"))
