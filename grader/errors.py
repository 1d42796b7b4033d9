"""The errors `grade` reports as one line and an exit code, never a traceback.

Every module raises its own subclass (ConfigError in config.py, DataError in mnist.py, ...);
the subclass says whose problem it is, and so the exit code, in one place: the CLI has one
handler for all of them (cli.Grade). A student's code failing a check is not one of these: that
is a verdict (gradcheck.CheckFailed, sandbox.StudentError), and the run exits 1.

    0  every check passed (with --pass-mark: the pass mark was reached)
    1  checks failed, or the submission could not be graded as handed in
    2  a usage or configuration error: ours to fix on the command line or in a file
    3  the grader could not grade, whatever the submission
"""

PASSED, FAILED, USAGE, BROKEN = 0, 1, 2, 3


class GradeError(Exception):
    """str(self) is the whole message: it names the file, key or value and what is wrong."""

    exit_code = USAGE


class SubmissionProblem(GradeError):
    """The submission cannot be graded as handed in (its files, its notebook): the student's to
    fix, like a failed check."""

    exit_code = FAILED


class GraderFailure(GradeError):
    """The grader cannot do its job here, whatever the submission (no data where it needs it, a
    sandbox it requires, its own checks not running)."""

    exit_code = BROKEN
