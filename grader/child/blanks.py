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
    name: str
    module: str
    returns: str = "array"
    part: str = ""  # the course.yaml part whose checks grade it (the grader's concern, not the child's)


def modules(blanks: Mapping[str, Blank]) -> list[str]:
    """The submission's files that hold blanks, without .py, sorted."""
    return sorted({b.module for b in blanks.values()})


def to_json(blanks: Mapping[str, Blank]) -> dict[str, list[str]]:
    """The table as it crosses into the child: name -> [module, returns]."""
    return {name: [b.module, b.returns] for name, b in blanks.items()}


def from_json(table: Mapping[str, list[str]]) -> dict[str, Blank]:
    return {name: Blank(name, module, returns) for name, (module, returns) in table.items()}
