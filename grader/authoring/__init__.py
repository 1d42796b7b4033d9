"""Building a course from its references: the student version, the test vectors and the
hidden ones (generate.py), and the nbgrader source notebook (notebook.py). The instructor's
alone: a student's release leaves this folder out."""
