"""What a grading says, in every format: the text table, Gradescope's results.json, JUnit,
Markdown, GitHub and Classroom (formats.py), the feedback page (page.py) and its plots (plots.py)."""
