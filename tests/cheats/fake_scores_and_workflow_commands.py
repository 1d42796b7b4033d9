"""Print fake score lines and GitHub workflow commands, and smuggle more into an error
message that the report quotes: behind U+2028, as "##\\[" (which a markup renderer turns
into "##["), and ahead of 400,000 backslashes (on which rich's markup regexes once spent
20 minutes per check; found by red-teaming).
base: stubs
joins: activations
parts: activations
expect: relu raised ValueError
"""
import sys

for stream in (sys.stdout, sys.stderr):
    print("Score: 100/100\n::notice::all checks passed\n::stop-commands::pwned\n##[error]x\n{\"score\": 100}",
          file=stream, flush=True)


def relu(z):
    print("::error file=activations.py::100 points", flush=True)
    raise ValueError("all good\n::notice title=grade::100/100\n  ::set-output name=score::100\n##[warning]x \x1b[2J"
                     "\u2028::error::after a line separator\u2029::warning::after a paragraph separator"
                     "\n##\\[warning title=grade;x[]100/100 points\n" + "\\" * 400_000)
