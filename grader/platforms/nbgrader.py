"""nbgrader: from a student's notebook back to the modules the grader imports, and
`grade_part`, which a notebook's check cells call.

Grading a notebook never trusts the kernel's answers: `module_source` keeps only the
definitions of its code cells (imports, functions, classes, constant assignments), so the
notebook's own experiments -- a training run, a plot -- are not run again, and the grader
runs that code in its sandbox like any submission.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from grader.errors import SubmissionProblem

if TYPE_CHECKING:  # annotations only (nbformat is the instructor's extra)
    from grader.child.limits import Limits


MODULE_FILE = "from_notebook"  # the module the notebook's code becomes; the blanks' modules import it


def first_line(node: ast.stmt) -> int:
    """Where a statement starts, its decorators included."""
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])


# -- from a notebook back to modules ---------------------------------------------------------------
def _kept(node, modules):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, ast.Import):
        return not any(a.name.split(".")[0] == "grader" for a in node.names)
    if isinstance(node, ast.ImportFrom):  # the blanks' modules are this very notebook
        return (node.module or "").split(".")[0] not in ("grader", *modules, MODULE_FILE) and not node.level
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        try:
            ast.literal_eval(node.value)
            return True
        except Exception:  # not a literal: ValueError, or TypeError for {[]: 0}, RecursionError, ...
            return False
    return False


def module_source(cells: Iterable[str], modules: Iterable[str]) -> str:
    """One module from a notebook's code cells: their definitions, in order, each cell marked
    with its number (so a line in an error message can be found in the notebook). A cell that is
    not valid Python (a magic, a typo) is kept as a comment for a cell with a syntax error, or
    dropped for IPython syntax."""
    modules = tuple(modules)  # the blanks' files: imports from them are this very notebook
    out = ['"""Definitions from a notebook, kept by grader.platforms.nbgrader.module_source."""']
    for number, source in enumerate(cells, start=1):
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):  # ValueError: a NUL byte
            lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
            try:
                tree, source = ast.parse("\n".join(lines)), "\n".join(lines)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                out.append(
                    f"\n# code cell {number}: not valid Python, so not graded\n"
                    + "\n".join(f"# {line}" for line in source.splitlines())
                )
                continue
        lines = source.splitlines()
        kept = [node for node in tree.body if _kept(node, modules)]
        if kept:
            out.append(f"\n# code cell {number}")
        for node in kept:
            out.append("\n".join(lines[first_line(node) - 1 : node.end_lineno]))
    return "\n".join(out) + "\n"


def write_submission(cells: Iterable[str], folder: str | os.PathLike[str], modules: Iterable[str]) -> Path:
    """Write a notebook's code as a submission folder the grader can import: the definitions
    in from_notebook.py, and each blank's module (modules) re-exporting them."""
    folder, modules = Path(folder), tuple(modules)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{MODULE_FILE}.py").write_text(module_source(cells, modules), encoding="utf-8")
    for module in modules:
        (folder / f"{module}.py").write_text(f"from {MODULE_FILE} import *  # noqa: F401,F403\n", encoding="utf-8")
    return folder


class NotebookError(SubmissionProblem):
    """A submitted notebook cannot be read or graded (the student's to fix, exit 1)."""


CONVERT_SECONDS = 60  # reading a notebook of the size limit (limits.submission_mb) takes well under a second


def convert(
    path: str | os.PathLike[str], folder: str | os.PathLike[str], limits: Limits, modules: Iterable[str]
) -> Path:
    """write_submission(code_cells(path), folder), done by a child with bounded memory, CPU and
    time: a notebook is an untrusted file, and parsing one can cost far more than its size (an
    8 MB cell took 3.9 GB and 24 s in ast.parse). Returns folder; raises NotebookError."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from grader.platforms.nbgrader import _convert; _convert(*sys.argv[2:])"
    )
    root = str(Path(__file__).resolve().parents[2])  # the folder that holds grader/
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-I",
                "-c",
                code,
                root,
                str(path),
                str(folder),
                str(limits.memory_mb << 20),
                str(int(CONVERT_SECONDS)),
                ",".join(modules),
            ],
            capture_output=True,
            text=True,
            timeout=CONVERT_SECONDS + 5,
            cwd="/",
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        )
    except subprocess.TimeoutExpired:
        raise NotebookError(f"{Path(path).name}: reading it took more than {CONVERT_SECONDS} s") from None
    if proc.returncode != 0:
        said = proc.stderr.strip().splitlines()
        why = (
            said[-1]
            if said and proc.returncode == 1
            else f"the reader was stopped (exit code {proc.returncode}: out of memory or time)"
        )
        raise NotebookError(f"{Path(path).name}: cannot be graded: {why}")
    return Path(folder)


def _convert(path, folder, memory, seconds, modules):
    """The child's side of convert(): limits first, then the untrusted file."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
    resource.setrlimit(resource.RLIMIT_CPU, (int(seconds), int(seconds) + 1))
    try:
        write_submission(code_cells(path), folder, modules.split(","))
    except NotebookError as exc:
        print(str(exc).split(": ", 1)[-1], file=sys.stderr)
        sys.exit(1)
    except (MemoryError, RecursionError) as exc:
        print(f"it needs more memory or nesting than a notebook may ({type(exc).__name__})", file=sys.stderr)
        sys.exit(1)


def code_cells(path: str | os.PathLike[str]) -> list[str]:
    """The sources of a .ipynb file's code cells, in order.

    A student's notebook is read with the json module, not nbformat, on purpose: this runs for
    every graded notebook (`grade check`, batch, Gradescope) and needs only the code cells'
    sources (one string, or a list of lines, in nbformat 4, which Jupyter has written since 2015).
    Measured on the kit's machine, nbformat would add to every student's install (the release's
    pyproject.toml, which each CI job installs) 11 packages, 7.2 MB and 4 s, on top of the
    grader's 23 packages and 227 MB; and to each read, in its bounded child, 0.13 s of CPU and
    13 MB (1.4 s and 36 MB where Jupyter's jsonschema format checkers are installed, as nbgrader
    installs them), against json's 0.02 s; and it would put jsonschema and a grammar parser (lark)
    between an untrusted file and the grader. Grading needs none of what it adds: an invalid
    notebook's code cells are graded as Jupyter would show them, and an nbformat 3 file is
    refused, saying how to upgrade it. tests/test_notebook.py checks that this reader and
    nbformat's agree on the generated notebook."""
    path = Path(path)
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(notebook.get("nbformat"), int) and notebook["nbformat"] < 4:
            raise NotebookError(
                f"{path}: an nbformat {notebook['nbformat']} notebook (IPython 2 or older); "
                "open it in Jupyter and save it, which upgrades it to nbformat 4"
            )
        cells = [c for c in notebook["cells"] if c.get("cell_type") == "code"]
        sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells]
    except OSError as exc:
        raise NotebookError(f"{path}: cannot read ({exc.strerror})") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise NotebookError(f"{path}: not a Jupyter notebook ({type(exc).__name__}: {str(exc)[:200]})") from None
    for number, source in enumerate(sources, start=1):
        if not isinstance(source, str):
            raise NotebookError(
                f"{path}: not a Jupyter notebook (code cell {number}'s source is {type(source).__name__}, not text)"
            )
    return sources


# -- inside a student's kernel -----------------------------------------------------------------------
def grade_part(part: str, course: str | os.PathLike[str] | None = None, assignment: str | None = None) -> float:
    """Grade one part of the notebook as executed so far and return its score (nbgrader reads a
    number returned by a test cell as partial credit). The code runs in `grade check`, in
    another process; this prints that check's verdicts and writes nothing to stderr, which
    nbgrader would count as a failure. course.yaml: `course`, else $GRADE_COURSE, else the
    nearest one above the working folder; $GRADE_HIDDEN adds the hidden checks. assignment: the
    notebook's own (course.yaml's id), which the generated check cells pass."""
    try:
        history = get_ipython().user_ns["In"]  # type: ignore[name-defined]  # IPython's builtin
    except NameError:
        raise RuntimeError("grade_part runs in a Jupyter notebook; elsewhere use `grade check`") from None
    with tempfile.TemporaryDirectory(prefix="grade-notebook-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from grader import config

        course_yaml = course or os.environ.get("GRADE_COURSE") or config.find()
        modules = config.load(Path(course_yaml), assignment).modules
        folder = write_submission([cell for cell in history if cell], Path(tmp) / "submission", modules)
        command = [
            sys.executable,
            "-m",
            "grader.cli",
            "check",
            str(folder),
            "--part",
            part,
            "--format",
            "json",
            "--report-dir",
            str(Path(tmp) / "report"),
            "--no-plots",
        ]  # they would go with tmp
        if course or os.environ.get("GRADE_COURSE"):
            command += ["--course", str(course or os.environ["GRADE_COURSE"])]
        if assignment:
            command += ["--assignment", assignment]
        if os.environ.get("GRADE_HIDDEN"):  # set by the instructor for official grading
            command += ["--hidden", os.environ["GRADE_HIDDEN"]]
        proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        raise RuntimeError(f"grade check could not run: {proc.stderr.strip()[-2000:]}")
    from grader.reports.formats import fmt

    results = json.loads(proc.stdout)
    for test in results["tests"]:
        mark = "ok" if test["status"] == "passed" else "x "
        print(f"{mark} {test['name']}  ({fmt(test['score'])} / {fmt(test['max_score'])})")
        for line in test["output"].splitlines():
            print(f"     {line}")
    return round(results["score"], 4)
