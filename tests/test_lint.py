"""grader/ stays linted, formatted and type-checked: ruff and mypy as pyproject.toml configures
them, run from this venv (`python -m ruff`, `python -m mypy`) so CI and a developer run the same
versions. The tester is tested too: on a copy, an unused import makes ruff fail and a badly
typed function makes mypy fail, under the same configuration."""

import shutil
import subprocess
import sys

import pytest
from helpers import ROOT

PYPROJECT = ROOT / "pyproject.toml"


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def assert_clean(proc):
    assert proc.returncode == 0, f"{' '.join(proc.args[2:])} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"


# ruff takes 0.05 s on grader/; mypy about 8 s without its cache (0.4 s with it), hence slow
@pytest.mark.parametrize(
    "command",
    [
        ("ruff", "check", "grader"),
        ("ruff", "format", "--check", "grader"),
        pytest.param(("mypy",), marks=pytest.mark.slow),
    ],
    ids=["ruff check", "ruff format", "mypy"],
)
def test_grader_is_clean(command):
    assert_clean(run(*command))


@pytest.fixture
def package(tmp_path):
    """A tiny package checked with the repository's configuration, clean as written."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "good.py").write_text('def double(x: int) -> int:\n    """Twice x."""\n    return 2 * x\n')
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    return pkg


def test_ruff_fails_on_an_unused_import(package):
    assert_clean(run("ruff", "check", "--config", str(PYPROJECT), str(package), cwd=package.parent))
    (package / "bad.py").write_text("import os\n\n\ndef f() -> int:\n    return 1\n")
    proc = run("ruff", "check", "--config", str(PYPROJECT), str(package), cwd=package.parent)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "F401" in proc.stdout and "bad.py" in proc.stdout


def test_ruff_format_check_fails_on_unformatted_code(package):
    (package / "ugly.py").write_text("x = {  'a':1 }\n")
    proc = run("ruff", "format", "--check", "--config", str(PYPROJECT), str(package), cwd=package.parent)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "ugly.py" in proc.stdout


@pytest.mark.slow  # two cold mypy runs: about 2 s
def test_mypy_fails_on_a_badly_typed_function(package):
    mypy = ("mypy", "--config-file", str(PYPROJECT), "--no-incremental")
    assert_clean(run(*mypy, str(package), cwd=package.parent))
    (package / "bad.py").write_text('def double(x: int) -> int:\n    return "twice " + str(x)\n')
    proc = run(*mypy, str(package), cwd=package.parent)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "bad.py:2: error: Incompatible return value type" in proc.stdout
