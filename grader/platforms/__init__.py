"""Where a course runs: the student repository (release.py), Gradescope (gradescope.py),
nbgrader notebooks (nbgrader.py: a notebook back to modules, and grade_part) and a class's
batch (batch.py). release, gradescope, batch and templates/ are the instructor's: a student's
release leaves them out."""
