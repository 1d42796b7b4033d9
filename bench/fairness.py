"""Blast radius: where each single-blank bug of tests/test_fairness.py loses its points.

    python bench/fairness.py [--root KIT] [--hidden] [-j 2]

Grades every bug and correct variant of the fairness table with `grade batch` (of the kit at
--root, default this one: point it at a checkout of an older commit to compare) and prints, per
bug, the points lost in each part, then how many bugs lose points outside their own part,
outside it and MNIST, and how many correct variants lose anything.
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE / "tests"))
from test_fairness import BUGS, CORRECT, folder_name  # noqa: E402  (the one table)

PARTS = {"activations": 15, "softmax_ce": 20, "backprop": 25, "updates": 15, "mnist": 25}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=HERE, help="the kit to grade with")
    parser.add_argument("--hidden", action="store_true", help="official grading (hidden/<id>/vectors.json)")
    parser.add_argument("-j", "--jobs", default="2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "submissions"
        for name, module, code, *_ in BUGS + CORRECT:
            sub = folder / folder_name(name)
            sub.mkdir(parents=True)
            for path in (HERE / "solutions" / "backprop").glob("*.py"):
                text = path.read_text()
                if path.stem == module:
                    text += "\n\n" + code.strip() + "\n"
                (sub / path.name).write_text(text)
        command = [sys.executable, "-m", "grader.cli", "batch", str(folder), "--out", f"{tmp}/out", "-j", args.jobs]
        if args.hidden:
            command += ["--hidden", str(args.root / "hidden" / "backprop" / "vectors.json")]
        env = {**os.environ, "PYTHONPATH": str(args.root)}
        subprocess.run(command, cwd=args.root, env=env, check=True, capture_output=True)
        with open(f"{tmp}/out/gradebook.csv") as f:
            book = {row["student"]: row for row in csv.DictReader(f)}
    outside = outside_but_mnist = 0
    print(f"{'bug':36} {'own part':12} lost per part")
    for name, _, _, part, trains in BUGS:
        lost = {p: PARTS[p] - float(book[folder_name(name)][p]) for p in PARTS}
        lost = {p: round(v, 2) for p, v in lost.items() if v > 1e-6}
        others = set(lost) - {part}
        outside += bool(others)
        outside_but_mnist += bool(others - {"mnist"})
        print(f"{name:36} {part:12} {lost}")
    unfair = [name for name, *_ in CORRECT if float(book[folder_name(name)]["total"]) < 100 - 1e-6]
    print(f"\n{len(BUGS)} bugs: {outside} lose points outside their own part, {outside_but_mnist} outside it "
          f"and MNIST; {len(unfair)} of {len(CORRECT)} correct variants lose points {unfair or ''}")


if __name__ == "__main__":
    main()
