"""`grade generate`: write each assignment's student version (exercises/<id>/) from its
reference (solutions/<id>/).

solutions/<id>/ is the one source of truth. Each blank's body sits between nbgrader's
`### BEGIN SOLUTION` and `### END SOLUTION` markers; in exercises/ that body becomes
`# YOUR CODE HERE` and a NotImplementedError naming the blank. Other files are copied
as they are. The test vectors the value checks compare against are written from the same
source, so nothing drifts. The public vectors go beside the stubs (exercises/<id>/vectors.json); the hidden ones (other
inputs, from a seed drawn once and kept in their file) to hidden/<id>/vectors.json, which
`grade release` never ships.
"""

from __future__ import annotations

import ast
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from grader.errors import GradeError
from grader.files import atomic_write

if TYPE_CHECKING:
    from grader.config import Course

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


class GenerateError(GradeError):
    """The reference or the generated files cannot be used or written as they are (exit 2)."""


def enclosing_functions(source: str, path: str | os.PathLike[str]) -> dict[int, str]:
    """Map each line number to the name of the innermost function containing it."""
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise GenerateError(f"{path}:{exc.lineno}: not valid Python: {exc.msg}") from None
    owner: dict[int, str] = {}
    for node in ast.walk(tree):  # outer functions come first, inner ones overwrite them
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):  # parsed: always set
                owner[line] = node.name
    return owner


def strip_solutions(source: str, path: str | os.PathLike[str]) -> str:
    """The student version of one file: every marked body replaced by a stub."""
    owner = enclosing_functions(source, path)
    out, inside = [], None
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise GenerateError(f"{path}:{number}: {BEGIN} inside the block opened at line {inside}")
            if number not in owner:
                raise GenerateError(f"{path}:{number}: {BEGIN} outside any function")
            inside = number
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}# YOUR CODE HERE\n")
            out.append(f'{indent}raise NotImplementedError("{owner[number]} is not implemented yet")\n')
        elif marker == END:
            if not inside:
                raise GenerateError(f"{path}:{number}: {END} without a {BEGIN}")
            inside = None
        elif not inside:
            out.append(line)
    if inside:
        raise GenerateError(f"{path}:{inside}: {BEGIN} is never closed by {END}")
    return "".join(out)


def student_files(solutions: str | os.PathLike[str]) -> dict[str, str]:
    """{relative path: text} of everything exercises/ should hold."""
    files = {}
    for path in sorted(Path(solutions).rglob("*")):
        rel = path.relative_to(solutions)
        if path.is_dir() or "__pycache__" in rel.parts or path.suffix == ".pyc":
            continue
        text = path.read_text(encoding="utf-8")
        files[str(rel)] = strip_solutions(text, path) if path.suffix == ".py" else text
    if not files:
        raise GenerateError(f"{solutions}: no files to generate from")
    return files


def defined_functions(path: Path) -> set[str]:
    """The names of the top-level functions a module defines (none if it does not exist)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except FileNotFoundError:
        return set()
    except SyntaxError as exc:
        raise GenerateError(f"{path}:{exc.lineno}: not valid Python: {exc.msg}") from None
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def vectors_text(vectors: dict[str, Any]) -> str:
    """One case per line: readable diffs, exact floats (repr round-trips)."""
    lines = [f"  {json.dumps(name)}: {json.dumps(case)}" for name, case in sorted(vectors.items())]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def same_vectors(text_a: str, text_b: str) -> bool:
    """Do two vector files agree to 1e-12? (BLAS may differ in the last bits across machines.)"""
    a, b = json.loads(text_a), json.loads(text_b)
    if a.keys() != b.keys():
        return False
    for name in a:
        if _keys(a[name]) != _keys(b[name]):  # the order of keys is part of a case (sgd_update's grads)
            return False
        flat_a, flat_b = json.dumps(a[name], sort_keys=True), json.dumps(b[name], sort_keys=True)
        if flat_a == flat_b:
            continue
        try:
            va, vb = np.array(_numbers(a[name])), np.array(_numbers(b[name]))
        except ValueError:
            return False
        if va.shape != vb.shape or not np.allclose(va, vb, rtol=1e-12, atol=1e-15):
            return False
    return True


def _keys(x):
    """Every dict's keys, in order, depth first."""
    if isinstance(x, dict):
        return [list(x), *[_keys(v) for v in x.values()]]
    if isinstance(x, list):
        return [_keys(v) for v in x if isinstance(v, (dict, list))]
    return []


def _numbers(x):
    if isinstance(x, dict):
        return [n for k in sorted(x) for n in _numbers(x[k])]
    if isinstance(x, list):
        return [n for v in x for n in _numbers(v)]
    return [float(x)]


def hidden_seed(path: str | os.PathLike[str]) -> tuple[int, bool]:
    """The seed of the hidden vectors: the one already in their file, else a new random one
    (so regenerating keeps them, and nobody can rebuild them from public code)."""
    try:
        seed = json.loads(Path(path).read_text(encoding="utf-8"))["seed"]
        if isinstance(seed, int) and seed >= 0:
            return seed, True
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return secrets.randbelow(2**63), False


def hidden_text(seed: int, vectors: dict[str, Any]) -> str:
    return f'{{"seed": {seed}, "vectors": ' + vectors_text(vectors).rstrip("\n") + "}\n"


MANIFEST = "generated.sha256"  # beside course.yaml: what `grade generate` last wrote, as sha256sum prints it


def sha256(path: str | os.PathLike[str]) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_manifest(path: str | os.PathLike[str]) -> dict[str, str] | None:
    """{path relative to the manifest's folder: sha256} of the files last generated; None when
    there is no manifest (nothing is known of any file's origin)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    entries = {}
    for line in lines:
        digest, _, name = line.partition("  ")
        if len(digest) == 64 and name:
            entries[name] = digest
    return entries


def manifest_key(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> str | None:
    """A generated file's name in the manifest, or None for one outside the course folder (never
    recorded, so never overwritten once it differs)."""
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return None


def generate(course: Course, check: bool = False, force: bool = False) -> list[Path]:
    """Write (or with check=True, compare) one assignment's generated files: exercises/<id>/,
    its public vectors, the hidden ones and nbgrader's source notebook,
    notebooks/source/<id>/<id>.ipynb. Returns the list of paths that were (or, when checking,
    would be) changed. Never loses anyone's work: files in exercises/<id>/ that solutions/<id>/
    lacks are listed but never deleted, and a generated file that differs from what this
    command last wrote there (generated.sha256) is someone's edit: generate refuses to
    overwrite it, naming it, unless force."""
    from grader.authoring import notebook
    from grader.grading.vectors import record  # imports the sandbox; keep `strip_solutions` light

    solutions, exercises, hidden, vectors = course.solutions, course.exercises, course.hidden_vectors, course.vectors
    root = course.root
    if not solutions.is_dir():
        raise GenerateError(f"{solutions}: no such folder (assignment {course.assignment_id}'s reference solutions)")
    wanted = {exercises / rel: text for rel, text in student_files(solutions).items()}
    missing = [
        f"{name} (in {module}.py)"
        for name, module in course.provided.items()
        if name not in defined_functions(solutions / f"{module}.py")
    ]
    if missing:
        raise GenerateError(
            f"{solutions}: training needs {', '.join(missing)}, which is not a blank of assignment "
            f"{course.assignment_id}: give it in that file (see docs/instructor-guide.md, add an assignment)"
        )
    try:
        source = notebook.dumps(notebook.build(solutions, course))
    except (SyntaxError, ValueError) as exc:
        raise GenerateError(f"{solutions}: cannot build the notebook: {exc}") from None
    except notebook.NotebookError as exc:  # nbformat is missing
        raise GenerateError(str(exc)) from None
    wanted[notebook.source_path(course)] = source
    seed, kept = hidden_seed(hidden)
    public, secret = record(course, seed)
    new_vectors, new_hidden = vectors_text(public), hidden_text(seed, secret)

    changed = [p for p, text in wanted.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
    old_vectors = vectors.read_text(encoding="utf-8") if vectors.is_file() else None
    if old_vectors is None or not same_vectors(old_vectors, new_vectors):
        changed.append(vectors)
    if not kept or not same_vectors(
        json.dumps(json.loads(hidden.read_text(encoding="utf-8"))["vectors"]), json.dumps(secret)
    ):
        changed.append(hidden)
    extra = [p for p in sorted(exercises.rglob("*.py")) if p not in wanted and "__pycache__" not in p.parts]
    generated = [*wanted, vectors, hidden]
    manifest_path = root / MANIFEST
    manifest = read_manifest(manifest_path)
    if check:
        recorded = {k: sha256(p) for p in generated if p.is_file() and (k := manifest_key(p, root))}
        stale_manifest = manifest is None or any(manifest.get(k) != v for k, v in recorded.items())
        return changed + extra + ([manifest_path] if stale_manifest and not changed else [])
    edited = [
        p
        for p in changed
        if p.exists()
        and p != vectors  # written only by generate (vectors: matched to 1e-12, not byte for byte)
        # a file outside the course has no key (None) and so no entry: get() gives None, as for any unknown file
        and (manifest is None or manifest.get(manifest_key(p, root)) != sha256(p))  # type: ignore[arg-type]
    ]
    if edited and not force:
        names = ", ".join(str(p) for p in edited)
        one = len(edited) == 1
        why = (
            "no generated.sha256 records what grade generate wrote"
            if manifest is None
            else f"{'it differs' if one else 'they differ'} from what grade generate last wrote there "
            "(generated.sha256)"
        )
        them = "it" if one else "them"
        raise GenerateError(
            f"not overwriting {names}: {why}, so {them} may hold someone's work. Move {them} away "
            f"(or commit {them}), or run `grade generate --force` to overwrite {them}"
        )
    for path in changed:
        atomic_write(path, {vectors: new_vectors, hidden: new_hidden}.get(path) or wanted[path])
    shutil.rmtree(exercises / "__pycache__", ignore_errors=True)
    entries = {k: v for k, v in (manifest or {}).items() if (root / k).is_file()}  # a file moved away: forgotten
    entries.update({k: sha256(p) for p in generated if (k := manifest_key(p, root))})
    text = "".join(f"{digest}  {name}\n" for name, digest in sorted(entries.items()))
    if not manifest_path.is_file() or manifest_path.read_text(encoding="utf-8") != text:
        atomic_write(manifest_path, text)
    return changed + extra
