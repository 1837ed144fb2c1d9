#!/usr/bin/env python3
"""grading/hint.py: the graded hints of an assignment (make hint LAB=<lab> N=<n> [LEVEL=k]).

    python3 grading/hint.py LAB [N] [--level 1|2|3|all]

LAB is a lab's folder (`08_webclient`), its number (`08`) or an assignment id (`08.1`, then no N); N is the
assignment's number in that lab (default 1). The hints are grading/hints/<id>.md: three parts separated by
lines `---`, from the least to the most telling: 1 the idea, 2 the system calls, 3 the pitfall the grader's
likely-cause message points at. Level 1 is printed by default; ask for the next one only once you have tried.
Only the Python standard library; Python 3.9 or later.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HINTS = ROOT / "grading" / "hints"
LEVELS = ("the idea", "the system calls", "the pitfall")


def titles() -> dict[str, str]:
    """id -> title, from grading/assignments.txt."""
    known = {}
    listing = ROOT / "grading" / "assignments.txt"
    if listing.exists():
        for line in listing.read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                fields = shlex.split(line)
                if len(fields) == 3:
                    known[fields[0]] = fields[2]
    return known


def parts_of(text: str) -> list[str]:
    """The hints of a file: the parts between lines `---`, without their blank edges."""
    parts, current = [], []
    for line in text.splitlines():
        if line.strip() == "---":
            parts.append("\n".join(current).strip("\n"))
            current = []
        else:
            current.append(line)
    parts.append("\n".join(current).strip("\n"))
    return parts


def assignment_id(lab: str, number: str | None) -> str | None:
    if re.fullmatch(r"\d\d\.\d+", lab):
        return lab if number in (None, "", lab.split(".")[1]) else None
    found = re.match(r"(\d\d)(?:_|$)", lab)
    if not found or not re.fullmatch(r"\d+", number or "1"):
        return None
    return f"{found.group(1)}.{int(number or '1')}"


def main() -> int:
    parser = argparse.ArgumentParser(description="print an assignment's graded hints, one level at a time")
    parser.add_argument("lab", help="08_webclient, 08 or 08.1")
    parser.add_argument("n", nargs="?", help="the assignment's number in the lab (default 1)")
    parser.add_argument("--level", default="1", help="1 (the idea), 2 (the system calls), 3 (the pitfall), all")
    args = parser.parse_args()

    known = titles()
    wanted = assignment_id(args.lab, args.n)
    available = sorted(p.stem for p in HINTS.glob("*.md"))
    if wanted is None or not (HINTS / f"{wanted}.md").exists():
        print(f"hint: no hints for LAB={args.lab}{' N=' + args.n if args.n else ''}; there are hints for: "
              f"{', '.join(available) or 'none'} (e.g. make hint LAB=08_webclient N=1)", file=sys.stderr)
        return 2
    parts = parts_of((HINTS / f"{wanted}.md").read_text())
    if len(parts) != 3 or not all(parts):
        print(f"hint: grading/hints/{wanted}.md: expected three hints separated by lines `---`, found "
              f"{len(parts)}", file=sys.stderr)
        return 1
    if args.level == "all":
        levels = [1, 2, 3]
    elif args.level in ("1", "2", "3"):
        levels = [int(args.level)]
    else:
        print(f"hint: LEVEL={args.level}: 1, 2, 3 or all", file=sys.stderr)
        return 2
    title = known.get(wanted, "")
    for k in levels:
        print(f"== {wanted}{' ' + title if title else ''}: hint {k} of 3, {LEVELS[k - 1]}")
        print(parts[k - 1])
        print()
    if levels[-1] < 3:
        print(f"(the next one: make hint LAB={args.lab}{' N=' + args.n if args.n else ''} LEVEL={levels[-1] + 1})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
