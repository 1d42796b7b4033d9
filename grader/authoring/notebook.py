"""The assignment as a Jupyter notebook for nbgrader (`grade generate` writes it).

notebooks/source/<id>/<id>.ipynb is built from solutions/<id>/, in nbgrader's source format:
each function a cell (a solution cell where it holds a blank's markers, a read-only cell
otherwise), each part's notes a read-only Markdown cell, each blank's equation, typeset, a
read-only Markdown cell just above the blank's cell, and each part an autograded test cell
worth the part's points that calls `grade_part` (platforms/nbgrader.py). All the files share
one notebook, in the order they import each other, because a notebook is one namespace.
"""

from __future__ import annotations

import ast
import io
import os
import re
from collections.abc import Container
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only (nbformat is the instructor's extra)
    from nbformat import NotebookNode

    from grader.child.blanks import Blank
    from grader.config import Course, Part


from grader.platforms.nbgrader import NotebookError, first_line

BEGIN = "### BEGIN SOLUTION"


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
    else its plain `equation` in backticks; '' when it has neither. Raises
    ValueError for LaTeX that MathJax could not typeset (see latex_problem)."""
    latex = blank.latex.strip()
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
            "code",
            "import numpy as np\n\nfrom grader.platforms.nbgrader import grade_part",
            "setup",
            _meta("setup", locked=True),
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
            cells.append(check_cell(part, course))
    # A part no file holds (design-choices' experiments): its notes and check cell at the end, so
    # that the notebook's points add up to the assignment's.
    checked = {c.metadata["nbgrader"]["grade_id"] for c in cells}
    for part in course.parts.values():
        if f"check-{part.id}" not in checked:
            notes = f"## {part.title} ({part.points:g} points)\n\n" + "\n\n".join(
                f"**{e.title}.** {e.look_for}" for e in course.experiments if part.id == "experiments"
            )
            cells.append(_cell("markdown", notes, f"{part.id}-notes", _meta(f"{part.id}-notes", locked=True)))
            cells.append(check_cell(part, course))
    return nbformat.v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    )


def check_cell(part: Part, course: Course) -> NotebookNode:
    """The autograded cell of a part: it runs the part's checks (grade_part), worth its points."""
    test_id = f"check-{part.id}"
    return _cell(
        "code",
        f"# Checks {part.title} ({part.points:g} points). Do not edit this cell.\n"
        f'grade_part("{part.id}", assignment="{course.assignment_id}")',
        test_id,
        _meta(test_id, grade=True, locked=True, points=part.points),
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
