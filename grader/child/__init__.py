"""Everything that runs beside student code, in the child process: the worker that imports the
submission and calls its blanks, the wire format it talks to the grader in, the limits it sets
on itself, the table of blanks and the training loop. The sandbox binds this folder (with
grader/__init__.py) into the child, and nothing else of the grader's: not the checks,
not the test vectors. So only what is here may be imported by the child; the standard library
and numpy aside."""
