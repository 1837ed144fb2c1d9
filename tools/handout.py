#!/usr/bin/env python3
"""tools/handout.py: the solution markers of the kit's assignments, and the student handout made from them.

    python3 tools/handout.py check                        the markers are balanced, not nested, with known ids
    python3 tools/handout.py write DIR [--keep-solutions]  the student tree (make handout: build/handout/)

A solution region in a C++ source (in Python or shell, the same lines with `#` in place of `//`):

    <indent>// BEGIN SOLUTION 08.1 "a thread per connection"
    <indent>...the kit's code...
    <indent>// END SOLUTION
    <indent>// BEGIN STUB                      optional, on the line right after END SOLUTION
    <indent>// netutil::not_implemented("08.1");
    <indent>// END STUB

In the handout the region's lines are gone and the STUB block's lines lose their `// ` (so a comment in the
stub is written `// // TODO ...`); without a STUB block the region becomes `netutil::not_implemented("08.1");`
at the region's indentation (Python: `raise SystemExit(...)`, shell: `echo ... >&2; exit 1`). With
--keep-solutions the solutions stay and the marker lines and stubs go: the instructor's tree, which
grading/check.py patches with the known-bad implementations.

The known ids are those of grading/assignments.txt (`<id> <lab> "<title>"`, one line each) and the `id=` of
grading/assignments/*.py. Only the Python standard library; Python 3.9 or later.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The files whose lines are read for markers, by the comment that starts a marker line.
CXX_SUFFIXES = {".cpp", ".hpp", ".h", ".cc", ".c"}
HASH_SUFFIXES = {".py", ".sh", ".mk"}

# What the handout leaves out: the kit's own tests, benchmarks, fuzzers, CI, docs (which map every slide to the
# solution's code), this tool, and the instructor's side of grading/.
EXCLUDED_TOP = {"tests", "bench", "fuzz", ".ci", "docs", "tools", ".github", "build", ".git"}
EXCLUDED_GRADING = {"hidden", "known_bad", "reference", "answers", "check.py"}
EXCLUDED_NAMES = {"__pycache__", ".pytest_cache"}
# The part of a README only the instructor reads (the top README's instructor section).
INSTRUCTOR_BEGIN = "<!-- BEGIN INSTRUCTOR -->"
INSTRUCTOR_END = "<!-- END INSTRUCTOR -->"

ID_PATTERN = r"\d\d\.\d+"
KIND_PATTERN = re.compile(r"^(?P<indent>[ \t]*)(?P<comment>//|#)[ \t]*(?P<kind>BEGIN SOLUTION|END SOLUTION|BEGIN STUB|"
                          r"END STUB)\b(?P<rest>.*)$")
BEGIN_REST = re.compile(r'^[ \t]+(?P<id>' + ID_PATTERN + r')(?:[ \t]+"(?P<title>[^"]*)")?[ \t]*$')


class MarkerError(Exception):
    """A marker problem, as `file:line: message`."""


@dataclass
class Assignment:
    id: str
    lab: str
    title: str

    @property
    def anchor(self) -> str:
        return f"{self.lab}/README.md#assignment-{self.id.split('.', 1)[1]}"


def load_assignments(root: Path) -> dict[str, Assignment]:
    """The known assignments: grading/assignments.txt, and the ids of grading/assignments/*.py."""
    known: dict[str, Assignment] = {}
    listing = root / "grading" / "assignments.txt"
    if listing.exists():
        for number, line in enumerate(listing.read_text().splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                fields = shlex.split(line)
            except ValueError as error:
                raise MarkerError(f"{listing}:{number}: {error}") from None
            if len(fields) != 3 or not re.fullmatch(ID_PATTERN, fields[0]):
                raise MarkerError(f'{listing}:{number}: expected `<id> <lab> "<title>"`, e.g. '
                                  f'`08.1 08_webclient "the concurrent HTTP server"`')
            known[fields[0]] = Assignment(*fields)
    for module in sorted((root / "grading" / "assignments").glob("*.py")):
        text = module.read_text()
        found = re.search(r'\bid\s*=\s*"(' + ID_PATTERN + r')"', text)
        if not found or found.group(1) in known:
            continue
        lab = re.search(r'\blab\s*=\s*"([0-9][0-9]_[A-Za-z0-9_]+)"', text)
        title = re.search(r'\btitle\s*=\s*"([^"]*)"', text)
        if lab:
            known[found.group(1)] = Assignment(found.group(1), lab.group(1), title.group(1) if title else "")
    return known


def source_files(root: Path) -> list[Path]:
    """Every file of the tree that is not a build output: git's (tracked and untracked, not ignored) when the
    tree is a git checkout, else a walk that skips build/."""
    try:
        # Only when root is the top of its own work tree: a copy of the kit inside another checkout (say under
        # the kit's own build/, which git ignores) is walked instead.
        top = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"], check=True,
                             capture_output=True, text=True).stdout.strip()
        if Path(top).resolve() != root:
            raise OSError("not the top of a git work tree")
        command = ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
        listed = subprocess.run(command, check=True, capture_output=True).stdout.decode()
        paths = [root / p for p in listed.split("\0") if p]
        return sorted(p for p in paths if p.is_file() or p.is_symlink())
    except (OSError, subprocess.CalledProcessError):
        paths = []
        for folder, dirs, files in os.walk(root):
            top_level = Path(folder) == root
            dirs[:] = sorted(d for d in dirs if d not in EXCLUDED_NAMES | {".git"} and not (top_level and d == "build"))
            paths += [Path(folder) / f for f in files if not built(Path(folder) / f)]
        return sorted(paths)


def built(path: Path) -> bool:
    """A build output left in a lab folder (the programs `make` links there, objects): never part of a tree."""
    if path.suffix in {".o", ".d", ".a"}:
        return True
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def comment_of(path: Path) -> str | None:
    if path.suffix in CXX_SUFFIXES:
        return "//"
    if path.suffix in HASH_SUFFIXES:
        return "#"
    return None


@dataclass
class Region:
    id: str
    title: str
    indent: str
    begin: int  # 0-based line numbers of the markers
    end: int
    stub: tuple[int, int] | None  # BEGIN STUB, END STUB


def parse(path: Path, lines: list[str], known: dict[str, Assignment], rel: str) -> list[Region]:
    """The regions of one file; MarkerError (file:line: message) on the first problem."""
    comment = comment_of(path)
    regions: list[Region] = []
    open_region: Region | None = None
    stub_start: int | None = None
    for i, line in enumerate(lines):
        match = KIND_PATTERN.match(line)
        if not match or match.group("comment") != comment:
            continue
        kind, rest = match.group("kind"), match.group("rest")
        where = f"{rel}:{i + 1}"
        if kind == "BEGIN SOLUTION":
            if stub_start is not None:
                raise MarkerError(f"{where}: BEGIN SOLUTION inside the STUB block begun on line {stub_start + 1}")
            if open_region:
                raise MarkerError(f"{where}: BEGIN SOLUTION nested in the region {open_region.id} begun on line "
                                  f"{open_region.begin + 1} (END SOLUTION first)")
            begin = BEGIN_REST.match(rest)
            if not begin:
                raise MarkerError(f'{where}: expected `{comment} BEGIN SOLUTION <lab>.<n> "<title>"`, e.g. '
                                  f'`{comment} BEGIN SOLUTION 08.1 "a thread per connection"`')
            if begin.group("id") not in known:
                raise MarkerError(f"{where}: unknown assignment {begin.group('id')} (known: "
                                  f"{', '.join(sorted(known)) or 'none'}; grading/assignments.txt lists them)")
            open_region = Region(begin.group("id"), begin.group("title") or "", match.group("indent"), i, -1, None)
        elif rest.strip():
            raise MarkerError(f"{where}: nothing may follow `{kind}` on its line")
        elif kind == "END SOLUTION":
            if stub_start is not None:
                raise MarkerError(f"{where}: END SOLUTION inside the STUB block begun on line {stub_start + 1}")
            if not open_region:
                raise MarkerError(f"{where}: END SOLUTION without a BEGIN SOLUTION")
            open_region.end = i
            regions.append(open_region)
            open_region = None
        elif kind == "BEGIN STUB":
            if open_region:
                raise MarkerError(f"{where}: BEGIN STUB inside the region {open_region.id} begun on line "
                                  f"{open_region.begin + 1} (it goes right after END SOLUTION)")
            if stub_start is not None:
                raise MarkerError(f"{where}: BEGIN STUB nested in the STUB block begun on line {stub_start + 1}")
            if not regions or regions[-1].end != i - 1:
                raise MarkerError(f"{where}: BEGIN STUB must be on the line right after an END SOLUTION")
            stub_start = i
        else:  # END STUB
            if stub_start is None:
                raise MarkerError(f"{where}: END STUB without a BEGIN STUB")
            regions[-1].stub = (stub_start, i)
            stub_start = None
    if open_region:
        raise MarkerError(f"{rel}:{open_region.begin + 1}: BEGIN SOLUTION {open_region.id} is never closed "
                          f"(END SOLUTION missing)")
    if stub_start is not None:
        raise MarkerError(f"{rel}:{stub_start + 1}: BEGIN STUB is never closed (END STUB missing)")
    for region in regions:
        if region.stub:
            for j in range(region.stub[0] + 1, region.stub[1]):
                stripped = lines[j].strip()
                if stripped and not (stripped == comment or stripped.startswith(comment + " ")):
                    raise MarkerError(f"{rel}:{j + 1}: a STUB line must be a comment (`{comment} ` then the code "
                                      f"the handout gets)")
    return regions


def scan(root: Path, known: dict[str, Assignment]) -> dict[Path, tuple[list[str], list[Region]]]:
    """Every file with markers: its lines and regions. Raises MarkerError on the first problem."""
    found = {}
    for path in source_files(root):
        if comment_of(path) is None or path.is_symlink():
            continue
        rel = path.relative_to(root).as_posix()
        if not included(rel):
            continue  # markers matter where the handout is made from; tests and tools may name them freely
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        if "SOLUTION" not in text and "STUB" not in text:
            continue
        lines = text.splitlines(keepends=True)
        regions = parse(path, lines, known, rel)
        if regions:
            found[path] = (lines, regions)
    return found


def default_stub(path: Path, region: Region, known: dict[str, Assignment]) -> str:
    anchor = known[region.id].anchor
    message = f"not implemented: assignment {region.id} (see {anchor})"
    if path.suffix == ".py":
        return f'{region.indent}raise SystemExit("{message}")\n'
    if comment_of(path) == "#":
        return f'{region.indent}echo "{message}" >&2; exit 1\n'
    return f'{region.indent}netutil::not_implemented("{region.id}");\n'


def render(path: Path, lines: list[str], regions: list[Region], known: dict[str, Assignment], keep: bool) -> str:
    """The file as the handout has it: stubs in place of the regions, or (keep) the solutions without markers."""
    comment = comment_of(path)
    out: list[str] = []
    i = 0
    for region in regions:
        out += lines[i:region.begin]
        if keep:
            out += lines[region.begin + 1:region.end]
        elif region.stub:
            for line in lines[region.stub[0] + 1:region.stub[1]]:
                stripped = line.lstrip()
                indent = line[:len(line) - len(stripped)]
                body = stripped[len(comment):]
                body = body[1:] if body.startswith(" ") else body
                out.append(indent + body if body.strip() else "\n")
        else:
            out.append(default_stub(path, region, known))
        i = (region.stub[1] if region.stub else region.end) + 1
    out += lines[i:]
    return "".join(out)


def cmd_check(root: Path) -> int:
    try:
        known = load_assignments(root)
        found = scan(root, known)
    except MarkerError as error:
        print(error, file=sys.stderr)
        return 1
    ids = {region.id for _, regions in found.values() for region in regions}
    missing = sorted(set(known) - ids)
    if os.environ.get("VERBOSE"):
        count = sum(len(regions) for _, regions in found.values())
        print(f"handout.py check: {count} solution regions in {len(found)} files, assignments {', '.join(sorted(ids))}"
              + (f"; no region for {', '.join(missing)}" if missing else ""))
    return 0


def included(rel: str) -> bool:
    parts = rel.split("/")
    if parts[0] in EXCLUDED_TOP or any(p in EXCLUDED_NAMES for p in parts):
        return False
    if parts[0] == "grading" and len(parts) > 1 and parts[1] in EXCLUDED_GRADING:
        return False
    return True


def strip_instructor(text: str, rel: str) -> str:
    out, inside = [], False
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        if line.strip() == INSTRUCTOR_BEGIN:
            if inside:
                raise MarkerError(f"{rel}:{number}: {INSTRUCTOR_BEGIN} inside another")
            inside = True
        elif line.strip() == INSTRUCTOR_END:
            if not inside:
                raise MarkerError(f"{rel}:{number}: {INSTRUCTOR_END} without a begin")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{rel}: {INSTRUCTOR_BEGIN} never closed")
    return "".join(out)


def lab_points(root: Path) -> dict[str, int]:
    """Points per lab, from the stages of grading/assignments/*.py (`Stage("title", POINTS, ...)`)."""
    points: dict[str, int] = {}
    for module in sorted((root / "grading" / "assignments").glob("*.py")):
        text = module.read_text()
        lab = re.search(r'\blab\s*=\s*"([0-9][0-9]_[A-Za-z0-9_]+)"', text)
        if not lab:
            continue
        total = sum(int(p) for p in re.findall(r'\bStage\(\s*"[^"]*"\s*,\s*(\d+)', text))
        points[lab.group(1)] = points.get(lab.group(1), 0) + total
    return points


def workflow(root: Path, known: dict[str, Assignment]) -> str:
    """GitHub Classroom's autograding workflow: one command-grader test per lab (`make grade LAB=...`, full
    points when the lab is at full marks), the reporter that adds them up, and the whole grader's output and
    results.json kept as an artifact."""
    labs = sorted({a.lab for a in known.values()})
    points = lab_points(root)
    steps, runners, env = [], [], []
    for lab in labs:
        step = "grade-" + lab.replace("_", "-")
        runners.append(step)
        env.append(f'        {step.upper()}_RESULTS: "${{{{steps.{step}.outputs.result}}}}"')
        steps.append(f"""    - name: make grade LAB={lab}
      id: {step}
      uses: classroom-resources/autograding-command-grader@v1
      with:
        test-name: {lab}
        command: make grade LAB={lab}
        timeout: 15
        max-score: {points.get(lab) or 100}
""")
    return f"""# GitHub Classroom autograding (written by `make handout`): each lab's assignments graded with
# `make grade`; a lab scores its points when every stage passes (the per-stage detail is in the job's log and in the
# grade-results artifact: build/grade/results.json, Gradescope's format).
name: Autograding Tests
'on':
- push
- workflow_dispatch
- repository_dispatch
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]'
    steps:
    - name: Checkout code
      uses: actions/checkout@v4
    - name: Install the compilers and libraries (make deps)
      run: make deps
    - name: Build (make, -Werror)
      run: make -j2
{''.join(steps)}    - name: Autograding Reporter
      uses: classroom-resources/autograding-grading-reporter@v1
      env:
{chr(10).join(env)}
      with:
        runners: {','.join(runners)}
    - name: make grade (every assignment, the whole report)
      if: always()
      run: make grade || true
    - name: Keep build/grade
      if: always()
      uses: actions/upload-artifact@v4
      with:
        name: grade-results
        path: build/grade/
"""


GITIGNORE_EXTRA = "\n# the grader's output\n__pycache__/\n"


def cmd_write(root: Path, dest: Path, keep: bool) -> int:
    try:
        known = load_assignments(root)
        found = scan(root, known)
    except MarkerError as error:
        print(error, file=sys.stderr)
        return 1
    dest = dest.resolve()
    if root.is_relative_to(dest) or (dest.is_relative_to(root) and not dest.is_relative_to(root / "build")):
        print(f"handout.py: {dest}: the handout goes outside the kit or under its build/, never over the kit's "
              f"own files", file=sys.stderr)
        return 1
    if dest.exists():
        # Only ever replace an earlier handout (or an empty folder), never anything else.
        if any(dest.iterdir()) and not (dest / ".github" / "workflows" / "classroom.yml").exists():
            print(f"handout.py: {dest} exists and is not a handout (no .github/workflows/classroom.yml): "
                  f"not replacing it", file=sys.stderr)
            return 1
        shutil.rmtree(dest)
    dest.mkdir(parents=True)

    written = 0
    for path in source_files(root):
        rel = path.relative_to(root).as_posix()
        if not included(rel):
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            os.symlink(os.readlink(path), target)
            continue
        if path in found:
            lines, regions = found[path]
            target.write_text(render(path, lines, regions, known, keep))
            shutil.copymode(path, target)
        elif path.suffix == ".md":
            target.write_text(strip_instructor(path.read_text(), rel))
            shutil.copymode(path, target)
        else:
            shutil.copy2(path, target)
        written += 1

    workflows = dest / ".github" / "workflows"
    workflows.mkdir(parents=True, exist_ok=True)
    (workflows / "classroom.yml").write_text(workflow(root, known))
    gitignore = dest / ".gitignore"
    gitignore.write_text((gitignore.read_text() if gitignore.exists() else "/build/\n") + GITIGNORE_EXTRA)

    # What must never reach students: a marker line, or (without --keep-solutions) a line of a solution
    # region that the stub does not also have.
    for path in sorted(p for p in dest.rglob("*") if p.is_file() and not p.is_symlink()):
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if re.search(r"\b(BEGIN|END) (SOLUTION|STUB)\b|BEGIN INSTRUCTOR", line):
                print(f"handout.py: {path.relative_to(dest)}:{number}: a marker reached the handout", file=sys.stderr)
                return 1
    regions = sum(len(r) for _, r in found.values())
    what = "solutions kept, markers removed" if keep else "stubs in place of the solutions"
    print(f"handout written to {dest}: {written + 1} files, {regions} solution regions of "
          f"{len({r.id for _, rs in found.values() for r in rs})} assignments ({what})")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tools/handout.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the kit (default: this file's kit)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="check the solution markers (exit 1 with file:line: message)")
    write = commands.add_parser("write", help="write the student handout to DIR")
    write.add_argument("dir", type=Path, metavar="DIR")
    write.add_argument("--keep-solutions", action="store_true",
                       help="keep the solutions (markers removed, no stubs): the instructor's tree")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.command == "check":
        return cmd_check(root)
    return cmd_write(root, args.dir, args.keep_solutions)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
