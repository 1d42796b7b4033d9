"""The grader's side of the boundary with student code: the process that runs it (process.py:
Sandbox, its calls and its training), the bubblewrap that isolates it (isolation.py), and the
bounds on a whole submission -- a cgroup, a uid of its own, the sweep of what it leaves
(bounds.py). What runs on the other side is grader/child/."""
