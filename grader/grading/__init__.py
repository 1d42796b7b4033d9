"""Grading one submission: the pytest session and its plugin (session.py, plugin.py), the
checks (checks/, most of them derived from the blanks' declarations), the test vectors and the
inputs they are drawn from (vectors.py, inputs.py), gradient checks (gradcheck.py), diagnoses
(diagnose.py), the MNIST run and the experiments, scored by the grader (scoring.py,
experiments.py), and the intake of the submitted files (intake.py)."""
