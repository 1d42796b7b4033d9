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
    inputs: tuple[str, ...] = ()  # its arguments' generators, with sizes (grader/grading/inputs.py)
    derivative_of: str = ""  # the blank this one is the element-wise derivative of
    delta_of: tuple[str, ...] = ()  # (output, loss): it is d loss(output(z), y) / dz, called as (output(z), y)
    # the hidden activation f of delta(l) = dL/dz(l), called as (W(l+1), delta(l+1), z(l))
    hidden_delta_of: str = ""
    gradient_of: str = ""  # "network": dL/dW(l), dL/db(l) of every layer, called as (params, cache, y)
    # the checks derived for it, in order: (kind, points); a pair's values are checked one array
    # at a time, as ("values dW", points) and ("values db", points)
    checks: tuple[tuple[str, float], ...] = ()

    @property
    def kinds(self) -> dict[str, float]:
        """Its checks' kinds -> points, a pair's components summed under "values"."""
        out: dict[str, float] = {}
        for kind, points in self.checks:
            out[kind.split()[0]] = out.get(kind.split()[0], 0) + points
        return out

    @property
    def components(self) -> tuple[str, ...]:
        """The names of a pair's two arrays where its values are checked one at a time, else ()."""
        return tuple(kind.split()[1] for kind, _ in self.checks if " " in kind)


def modules(blanks: Mapping[str, Blank]) -> list[str]:
    """The submission's files that hold blanks, without .py, sorted."""
    return sorted({b.module for b in blanks.values()})


def to_json(blanks: Mapping[str, Blank]) -> dict[str, list[str]]:
    """The table as it crosses into the child: name -> [module, returns]."""
    return {name: [b.module, b.returns] for name, b in blanks.items()}


def from_json(table: Mapping[str, list[str]]) -> dict[str, Blank]:
    return {name: Blank(name, module, returns) for name, (module, returns) in table.items()}
