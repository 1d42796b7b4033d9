"""The notebook `grade generate` writes is in Jupyter's own form (a save in Jupyter changes
nothing), valid for nbformat, with nbgrader's metadata and fixed ids; and the grader's minimal
reader of students' notebooks agrees with nbformat's."""
import dataclasses
import io
import json
import re
import sys

import nbformat
import pytest
from helpers import NOTEBOOK, ROOT, SOLUTIONS, course_blanks

MODULES = sorted({b.module for b in course_blanks().values()})

from grader import config
from grader.authoring import notebook
from grader.authoring.generate import GenerateError, generate
from grader.platforms import nbgrader
from grader.platforms.nbgrader import NotebookError, code_cells


def jupyter_save(text):
    """What Jupyter writes back when it opens this text and saves it: jupyter_server reads with
    nbformat.reads(as_version=4) and saves with nbformat.write(nb, f, version=NO_CONVERT)."""
    out = io.StringIO()
    nbformat.write(nbformat.reads(text, as_version=4), out, version=nbformat.NO_CONVERT)
    return out.getvalue()


def built():
    return notebook.build(SOLUTIONS, config.load(ROOT / "course.yaml", "backprop"))


def test_generated_notebook_is_valid_nbformat():
    nbformat.validate(nbformat.read(NOTEBOOK, as_version=nbformat.NO_CONVERT))  # raises ValidationError if not


def test_generated_notebook_is_what_jupyter_saves():
    text = NOTEBOOK.read_text(encoding="utf-8")
    assert text == jupyter_save(text)
    assert text == notebook.dumps(built())  # and what grade generate writes now (--check says so too)


@pytest.mark.parametrize("hand_written", [
    lambda nb: json.dumps(nb, indent=2),  # another indent
    lambda nb: json.dumps(nb, indent=1, ensure_ascii=False) + "\n",  # how the kit wrote it before: 631 lines changed
])
def test_the_canonical_check_fails_on_hand_written_json(hand_written):
    """Test the tester: the same notebook, written by hand, is not what Jupyter saves."""
    text = hand_written(json.loads(json.dumps(built())))
    nbformat.validate(nbformat.reads(text, as_version=4))  # valid: only its form differs
    assert text != jupyter_save(text)


def test_ids_and_nbgrader_metadata_are_fixed():
    first, second = built(), built()
    assert notebook.dumps(first) == notebook.dumps(second)  # no random cell id
    for cell in first.cells:
        meta = cell.metadata.nbgrader
        assert cell.id == meta.grade_id and meta.schema_version == 3
        assert meta.solution == ("### BEGIN SOLUTION" in cell.source)
        assert meta.locked != meta.solution and ("points" in meta) == meta.grade
    assert sum(c.metadata.nbgrader.get("points", 0) for c in first.cells) == 100


def test_an_invalid_notebook_is_not_written():
    nb = built()
    nb.cells[0].id = "not an id"  # nbformat 4.5: letters, digits, - and _ only
    with pytest.raises(ValueError, match="not be valid nbformat 4: 'not an id' does not match"):
        notebook.dumps(nb)


def test_without_nbformat_generate_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "nbformat", None)  # `import nbformat` now raises ImportError
    before = {p: p.stat().st_mtime_ns for p in (ROOT / "notebooks").rglob("*")}
    with pytest.raises(GenerateError, match=r"needs nbformat.*pip install -e '\.\[instructor\]'"):
        generate(config.load(ROOT / "course.yaml", "backprop"), check=True)
    assert {p: p.stat().st_mtime_ns for p in (ROOT / "notebooks").rglob("*")} == before


# -- the grader's reader of students' notebooks ------------------------------------------------------
def code_sources(nb):
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def test_the_minimal_reader_agrees_with_nbformat(tmp_path):
    canonical = nbformat.read(NOTEBOOK, as_version=4)
    assert code_cells(NOTEBOOK) == code_sources(canonical)  # each source a list of lines
    one_string = tmp_path / "strings.ipynb"  # as other tools write it
    one_string.write_text(json.dumps(json.loads(json.dumps(canonical))), encoding="utf-8")
    assert '"source": "' in one_string.read_text() and code_cells(one_string) == code_sources(canonical)
    assert len(code_sources(canonical)) > 20 and "def backward(" in "".join(code_sources(canonical))


@pytest.mark.parametrize("content, problem", [
    ("{not json", r"not a Jupyter notebook \(JSONDecodeError"),
    (json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": []}), "an nbformat 3 notebook .*save it"),
    (json.dumps({"nbformat": 4, "cells": [{"cell_type": "code", "source": 5}]}), "code cell 1's source is int"),
    (json.dumps({"nbformat": 4, "cells": [{"cell_type": "code", "source": [1]}]}), "TypeError: sequence item 0"),
    (json.dumps([]), "not a Jupyter notebook"),
])
def test_a_broken_notebook_says_what_is_wrong(tmp_path, content, problem):
    path = tmp_path / "backprop.ipynb"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(NotebookError, match=rf"backprop\.ipynb: .*{problem}"):
        code_cells(path)


def test_the_bounded_child_passes_the_reason_on(tmp_path):
    from grader.child.limits import Limits

    path = tmp_path / "backprop.ipynb"
    path.write_text(json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": []}), encoding="utf-8")
    with pytest.raises(NotebookError, match=r"^backprop\.ipynb: cannot be graded: an nbformat 3 notebook"):
        nbgrader.convert(path, tmp_path / "out", Limits(), MODULES)
    done = nbgrader.convert(NOTEBOOK, tmp_path / "ok", Limits(), MODULES)
    assert "def backward(" in (done / "from_notebook.py").read_text()


# -- each blank's equation, typeset, right above its cell ---------------------------------------------
ASSIGNMENTS = config.load(ROOT / "course.yaml", "backprop").assignment_ids


def maths_problem(source):
    """What is wrong with a blank's equation cell as display maths: '' when it is one $$...$$
    whose braces pair up and which matplotlib's mathtext (a subset of the TeX MathJax reads)
    typesets; else why not."""
    from matplotlib.mathtext import MathTextParser

    if not (source.startswith("$$") and source.endswith("$$") and len(source) > 4):
        return "not one $$...$$ block"
    inner, depth = source[2:-2], 0
    for token in re.findall(r"\\.|[{}$]", inner):
        if token == "$":
            return "a $ inside the maths"
        depth += {"{": 1, "}": -1}.get(token, 0)
        if depth < 0:
            return "a } before its {"
    if depth:
        return "an unclosed {"
    try:
        MathTextParser("agg").parse(f"${inner}$")
    except ValueError as exc:
        return f"mathtext cannot typeset it: {str(exc).splitlines()[-1]}"
    return ""


def solution_cell_of(cells, name):
    [index] = [i for i, c in enumerate(cells) if c.cell_type == "code" and c.metadata.nbgrader.solution
               and re.match(rf"def {name}\(", c.source)]
    return index


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_blank_has_its_equation_typeset_right_above_its_cell(assignment):
    course = config.load(ROOT / "course.yaml", assignment)
    cells = nbformat.read(notebook.source_path(course), as_version=4).cells
    above = {}
    for name in course.blanks:
        cell = cells[solution_cell_of(cells, name) - 1]
        assert cell.cell_type == "markdown" and cell.id.endswith(f"-{name}-equation"), (name, cell.source)
        assert maths_problem(cell.source) == "", (name, cell.source)
        above[name] = cell.source
    assert sum(c.id.endswith("-equation") for c in cells) == len(course.blanks)  # and nowhere else
    if assignment == "backprop":  # the notes' notation
        assert r"\delta^{(L)}" in above["output_delta"] and r"\odot" in above["hidden_delta"]
        assert r"\frac{\partial L}{\partial W^{(l)}}" in above["layer_gradients"]


@pytest.mark.parametrize("broken, problem", [
    (r"$$\frac{1}{m$$", "unclosed"),
    (r"$$a}{b$$", "before its {"),
    (r"$$a$ + $b$$", "a $ inside"),
    (r"$\sigma(z)$", "not one $$"),
    (r"$$\sigmaa(z)$$", "mathtext cannot typeset it"),
    ("`f(z) = max(0, z)`", "not one $$"),
])
def test_the_maths_check_fails_broken_latex(broken, problem):
    """Test the tester: each way an equation cell can be broken is found."""
    assert problem in maths_problem(broken)
    assert maths_problem(r"$$\{x\} = \frac{1}{2} \$5$$") == ""  # escaped braces and dollars are text


def test_an_equation_cell_comes_from_latex_then_the_equation():
    from grader.child.blanks import Blank

    assert notebook.equation_markdown(Blank("backward", "m", latex=r"\sigma")) == r"$$\sigma$$"  # declared wins
    assert notebook.equation_markdown(Blank("leaky", "m", equation="f(z) = z")) == "`f(z) = z`"
    assert notebook.equation_markdown(Blank("leaky", "m")) == ""
    for a in ASSIGNMENTS:  # every blank of the kit's assignments brings its own
        assert all(b.latex for b in config.load(ROOT / "course.yaml", a).blanks.values()), a


@pytest.mark.parametrize("latex, problem", [
    (r"\frac{1}{m", "leaves 1 { open"),
    (r"a}", "} that closes no {"),
    (r"$a$", "holds a $"),
])
def test_a_broken_latex_declaration_stops_generate_naming_the_blank(latex, problem):
    course = config.load(ROOT / "course.yaml", "backprop")
    assert problem in notebook.latex_problem(latex)
    blanks = {**course.blanks, "relu": dataclasses.replace(course.blanks["relu"], latex=latex)}
    with pytest.raises(GenerateError, match=rf"cannot build the notebook: blank relu: its latex .* {re.escape(problem)}"):
        generate(dataclasses.replace(course, blanks=blanks), check=True)  # before anything is recorded or written
    assert notebook.latex_problem(r"\{a\} \$") == ""  # escaped: text


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_check_cells_are_worth_the_assignments_points(assignment):
    """One autograded cell per part, also for a part no file holds (design-choices' experiments),
    so nbgrader's total is the assignment's."""
    course = config.load(ROOT / "course.yaml", assignment)
    nb = json.loads(notebook.source_path(course).read_text())
    graded = {c["metadata"]["nbgrader"]["grade_id"]: c["metadata"]["nbgrader"]["points"]
              for c in nb["cells"] if c["metadata"]["nbgrader"].get("grade")}
    assert graded == {f"check-{p.id}": p.points for p in course.parts.values()}
