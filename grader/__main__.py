"""`python -m grader ...` is `grade ...` (for machines where the console script is not on PATH)."""

from grader.cli import main

main(prog_name="grade")
