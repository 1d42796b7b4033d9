"""The assignment as a Jupyter notebook for nbgrader, and the way back from a notebook to the
modules the grader imports.

`grade generate` writes notebooks/source/<id>/<id>.ipynb from solutions/, in nbgrader's
source format: each function a cell (a solution cell where it holds a blank's markers, a
read-only cell otherwise), each part's notes a read-only Markdown cell, each blank's equation,
typeset, a read-only Markdown cell just above the blank's cell, and each part an autograded
test cell worth the part's points that calls `grade_part`. All the files share
one notebook, in the order they import each other, because a notebook is one namespace.

Grading a notebook never trusts the kernel's answers: `module_source` keeps only the
definitions of its code cells (imports, functions, classes, constant assignments), so the
notebook's own experiments -- a training run, a plot -- are not run again, and the grader
runs that code in its sandbox like any submission.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Container, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from grader.errors import SubmissionProblem

if TYPE_CHECKING:  # annotations only (nbformat is the instructor's extra)
    from nbformat import NotebookNode

    from grader.child.blanks import Blank
    from grader.child.limits import Limits
    from grader.config import Course

BEGIN = "### BEGIN SOLUTION"
MODULE_FILE = "from_notebook"  # the module the notebook's code becomes; the blanks' modules import it

# The LaTeX of the backprop blanks that course.yaml does not declare in full yet, as the notes
# typeset them. A stand-in, keyed by blank name: these strings move into those blanks' `latex:`
# keys in course.yaml when their declarations are written (under way, with their derived
# checks), and then this table goes. A declared `latex` always wins.
LATEX = {
    "hidden_delta": r"\delta^{(l)} = \left(W^{(l+1)}\right)^{\top} \delta^{(l+1)} \odot f^{\prime}\left(z^{(l)}\right)",
    "backward": r"\frac{\partial L}{\partial W^{(l)}} = \delta^{(l)} \left(a^{(l-1)}\right)^{\top}, \quad "
    r"\frac{\partial L}{\partial b^{(l)}} = \sum_{\text{columns}} \delta^{(l)}, \quad "
    r"\text{from } \delta^{(L)} = \frac{1}{m} \left(a^{(L)} - y\right)",
    "layer_gradients": r"\frac{\partial L}{\partial W^{(l)}} = \delta^{(l)} \left(a^{(l-1)}\right)^{\top}, \qquad "
    r"\frac{\partial L}{\partial b^{(l)}} = \sum_{\text{columns}} \delta^{(l)}",
    "sgd_update": r"W^{(l)} \leftarrow W^{(l)} - \mathrm{lr} \, \frac{\partial L}{\partial W^{(l)}}, \qquad "
    r"b^{(l)} \leftarrow b^{(l)} - \mathrm{lr} \, \frac{\partial L}{\partial b^{(l)}}",
}


def _meta(grade_id, *, solution=False, grade=False, locked=False, points=None):
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _nbformat():
    """nbformat, imported when a notebook is written (not by `grade check`, which never writes one:
    importing it took 0.13 s, and 1.4 s of CPU where Jupyter's jsonschema format checkers are
    installed). It comes with the `instructor` extra; students never need it (see code_cells)."""
    try:
        import nbformat
    except ImportError:
        raise NotebookError(  # generate turns it into a GenerateError: the instructor's set-up
            "writing nbgrader's notebook needs nbformat, which is not installed: "
            "pip install 'nn-from-scratch-grader[instructor]' (in the kit's folder: "
            "pip install -e '.[instructor]')"
        ) from None
    return nbformat


def _cell(kind, source, cell_id, metadata):
    """A cell made by nbformat itself, with a fixed id (a random one would change the file, and
    generated.sha256, on every `grade generate`)."""
    from nbformat.v4 import new_code_cell, new_markdown_cell

    new = new_code_cell if kind == "code" else new_markdown_cell
    return new(source.strip("\n"), id=cell_id, metadata=metadata)


def latex_problem(latex: str) -> str:
    """Why MathJax could not typeset latex, as far as a scan can tell: a brace that does not
    pair up, or a $ (the notebook puts the $$ around it). '' when it finds nothing; escaped
    characters (\\{, \\$) are text, not structure."""
    depth = 0
    for token in re.findall(r"\\.|[{}$]", latex, re.S):
        if token == "$":
            return "holds a $: give the maths alone, the notebook puts it between $$"
        depth += {"{": 1, "}": -1}.get(token, 0)
        if depth < 0:
            return "has a } that closes no {"
    return f"leaves {depth} {{ open" if depth else ""


def equation_markdown(blank: Blank) -> str:
    """The Markdown shown just above a blank's cell: its equation as the notes typeset it
    (display maths, $$...$$, which Jupyter renders with MathJax) from its declared `latex`,
    else from LATEX; else its plain `equation` in backticks; '' when it has neither. Raises
    ValueError for LaTeX that MathJax could not typeset (see latex_problem)."""
    latex = (blank.latex or LATEX.get(blank.name, "")).strip()
    if latex:
        problem = latex_problem(latex)
        if problem:
            raise ValueError(f"blank {blank.name}: its latex {latex!r} {problem}")
        return f"$${latex}$$"
    return f"`{blank.equation}`" if blank.equation else ""


def module_order(solutions: str | os.PathLike[str]) -> list[str]:
    """The .py files of solutions/, each after the sibling modules it imports (network last)."""
    names = sorted(p.stem for p in Path(solutions).glob("*.py"))
    needs = {}
    for name in names:
        tree = ast.parse((Path(solutions) / f"{name}.py").read_text(encoding="utf-8"))
        needs[name] = {n.module for n in tree.body if isinstance(n, ast.ImportFrom) and n.module in names}
    order: list[str] = []
    while len(order) < len(names):
        ready = [n for n in names if n not in order and needs[n] <= set(order)]
        if not ready:
            raise ValueError(f"{solutions}: the modules import each other in a cycle")
        order.append(ready[0])
    return order


def first_line(node: ast.stmt) -> int:
    """Where a statement starts, its decorators included."""
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])


def pieces(path: str | os.PathLike[str], siblings: Container[str]) -> tuple[str, list[tuple[str, str | None, str]]]:
    """(docstring, [(kind, name, source)]) of one file: kind 'function' or 'code'; imports of
    sibling modules are dropped (the notebook is one namespace)."""
    text = Path(path).read_text(encoding="utf-8")
    tree = ast.parse(text)
    lines = text.splitlines()
    doc = ast.get_docstring(tree) or ""
    out: list[tuple[str, str | None, str]] = []
    loose: list[str] = []
    starts = [first_line(n) for n in tree.body]
    for i, node in enumerate(tree.body):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and i == 0:
            continue  # the module docstring
        if isinstance(node, ast.ImportFrom) and node.module in siblings:
            continue
        # up to the next statement: a function's last lines may be comments (### END SOLUTION)
        end = starts[i + 1] - 1 if i + 1 < len(tree.body) else len(lines)
        source = "\n".join(lines[starts[i] - 1 : end]).rstrip()
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            if loose:
                out.append(("code", None, "\n".join(loose)))
                loose = []
            out.append(("function", node.name, source))
        else:
            loose.append(source)
    if loose:
        out.append(("code", None, "\n".join(loose)))
    return doc, out


def build(solutions: str | os.PathLike[str], course: Course) -> NotebookNode:
    """The nbgrader source notebook (an nbformat 4.5 NotebookNode) of the whole assignment."""
    nbformat = _nbformat()
    order = module_order(solutions)
    cells = [
        _cell(
            "markdown",
            f"# {course.assignment}\n\n{course.name}. Fill in every cell that says "
            "`YOUR CODE HERE`, then run the check cell below each part: it grades your code exactly as "
            "`grade check` does, in a separate process, and shows its score. Official grading adds "
            "hidden checks.",
            "intro",
            _meta("intro", locked=True),
        ),
        _cell(
            "code", "import numpy as np\n\nfrom grader.notebook import grade_part", "setup", _meta("setup", locked=True)
        ),
    ]
    for module in order:
        doc, parts = pieces(Path(solutions) / f"{module}.py", order)
        part = course.parts.get(module if module != "network" else "mnist")
        title = f"{part.title} ({part.points:g} points)" if part else module
        cells.append(
            _cell("markdown", f"## {title}\n\n{doc}", f"{module}-notes", _meta(f"{module}-notes", locked=True))
        )
        for n, (kind, name, source) in enumerate(parts):
            if kind == "code" and source.strip() == "import numpy as np":
                continue  # in the setup cell
            cell_id = f"{module}-{name or n}"
            equation = equation_markdown(course.blanks[name]) if name in course.blanks else ""
            if equation:  # the blank's maths, right above the cell the student fills in
                maths_id = f"{cell_id}-equation"
                cells.append(_cell("markdown", equation, maths_id, _meta(maths_id, locked=True)))
            if BEGIN in source:
                cells.append(_cell("code", source, cell_id, _meta(cell_id, solution=True)))
            else:
                cells.append(_cell("code", source, cell_id, _meta(cell_id, locked=True)))
        if part:
            test_id = f"check-{part.id}"
            cells.append(
                _cell(
                    "code",
                    f"# Checks {part.title} ({part.points:g} points). Do not edit this cell.\n"
                    f'grade_part("{part.id}", assignment="{course.assignment_id}")',
                    test_id,
                    _meta(test_id, grade=True, locked=True, points=part.points),
                )
            )
    return nbformat.v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    )


def source_path(course: Course) -> Path:
    """Where nbgrader expects the assignment's source notebook: notebooks/source/<id>/<id>.ipynb."""
    return course.root / "notebooks" / "source" / course.assignment_id / f"{course.assignment_id}.ipynb"


def dumps(notebook: NotebookNode) -> str:
    """The notebook's text exactly as Jupyter saves it -- jupyter_server's save is
    nbformat.write(nb, f, version=NO_CONVERT): indent 1, sorted keys, each source a list of
    lines, a final newline. Written any other way (json.dumps), Jupyter's first save rewrote 631
    lines. Raises ValueError if the notebook is not valid nbformat 4."""
    nbformat = _nbformat()
    try:
        nbformat.validate(notebook)
    except nbformat.ValidationError as exc:
        raise ValueError(f"the notebook would not be valid nbformat 4: {exc.message}") from None
    out = io.StringIO()
    nbformat.write(notebook, out, version=nbformat.NO_CONVERT)
    return out.getvalue()


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
    out = ['"""Definitions from a notebook, kept by grader.notebook.module_source."""']
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
    code = "import sys; sys.path.insert(0, sys.argv[1]); from grader.notebook import _convert; _convert(*sys.argv[2:])"
    root = str(Path(__file__).resolve().parent.parent)
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
    from grader.report import fmt

    results = json.loads(proc.stdout)
    for test in results["tests"]:
        mark = "ok" if test["status"] == "passed" else "x "
        print(f"{mark} {test['name']}  ({fmt(test['score'])} / {fmt(test['max_score'])})")
        for line in test["output"].splitlines():
            print(f"     {line}")
    return round(results["score"], 4)
