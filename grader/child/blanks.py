"""A blank as the child knows it: the module it lives in, and what it returns.

Which functions are blanks is each assignment's choice, declared in course.yaml
(assignments.<id>.blanks); the grader sends the table to the child when it starts it.
`returns` tells the child how to turn a return value into plain arrays before it crosses
the process boundary: "array", "scalar", "pair" (two arrays) or "dict" (str -> array).
"""

from collections.abc import Mapping
from dataclasses import dataclass

RETURNS = ("array", "scalar", "pair", "dict")


@dataclass(frozen=True)
class Blank:
    """One blank as course.yaml declares it. The child uses name, module and returns; the rest
    is the grader's: from it come the checks (see grader/grading/checks/test_blanks.py) and the vectors."""

    name: str
    module: str
    returns: str = "array"
    part: str = ""  # the course.yaml part whose checks grade it
    equation: str = ""  # what it computes, in the notes' notation: quoted by every diagnosis
    latex: str = ""  # the same as the notes typeset it (the notebook shows it beside the blank's cell)
    inputs: tuple[str, ...] = ()  # one input generator per argument (grader/grading/inputs.py)
    derivative_of: str = ""  # the blank this one is the element-wise derivative of
    delta_of: tuple[str, ...] = ()  # (output, loss): it is d loss(output(z), y) / dz, called as (output(z), y)
    checks: tuple[tuple[str, float], ...] = ()  # the checks derived for it: (kind, points), in order


def modules(blanks: Mapping[str, Blank]) -> list[str]:
    """The submission's files that hold blanks, without .py, sorted."""
    return sorted({b.module for b in blanks.values()})


def to_json(blanks: Mapping[str, Blank]) -> dict[str, list[str]]:
    """The table as it crosses into the child: name -> [module, returns]."""
    return {name: [b.module, b.returns] for name, b in blanks.items()}


def from_json(table: Mapping[str, list[str]]) -> dict[str, Blank]:
    return {name: Blank(name, module, returns) for name, (module, returns) in table.items()}
