#!/usr/bin/env python3
"""grading/check.py (make handout-check): the proof that the handout and the grader do what they claim.

    python3 grading/check.py [--full] [--only NAME...] [--add-to FILE] [--timeout-scale X]

One line per check, then `N passed, N failed` (exit 0 only when nothing failed):
- the markers are balanced (tools/handout.py check);
- the handout, written from a clean copy of the kit (its tracked and new files, no build outputs), builds with
  -Werror (the files the handout changes are compiled, every other object is the kit's own build, copied:
  --full builds the whole handout from scratch);
- no marker, solution line, hidden stage, known-bad implementation or reference reaches the handout;
- every stage of every assignment scores 0 on the handout's stubs, quickly and without hanging;
- the kit scores full marks (with the hidden stages);
- every line of grading/known_bad/MATRIX scores as it says: the stages before its stage pass, its stage fails
  (or, with `-`, every stage passes: the references of grading/reference/ through SERVER=).
--add-to FILE adds the counts to FILE's `passed failed` (make test: build/release/test-summary).
Never in the handout (it is the instructor's). Work files: build/handout-check/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True
KIT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRADING = os.path.join(KIT, "grading")
GRADE = os.path.join(GRADING, "grade.py")
WORK = os.path.join(KIT, "build", "handout-check")
JOBS = str(min(2, os.cpu_count() or 1))

SOURCE_SUFFIXES = (".cpp", ".hpp", ".h", ".cc", ".c", ".py", ".sh", ".mk")
MARKER = re.compile(r"^\s*(//|#)\s*(BEGIN SOLUTION|END SOLUTION|BEGIN STUB|END STUB)\b")
INSTRUCTOR_ONLY = ("grading/hidden", "grading/known_bad", "grading/reference", "grading/answers", "grading/check.py")


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def ok(self, name, note=""):
        self.passed += 1
        print(f"ok    {name}{'  (' + note + ')' if note else ''}", flush=True)

    def fail(self, name, why, details=""):
        self.failed += 1
        print(f"FAIL  {name}: {why}", flush=True)
        for line in details.rstrip().splitlines()[-40:]:
            print(f"        {line}")
        sys.stdout.flush()

    def skip(self, name, why):
        self.skipped += 1
        print(f"skip  {name}: {why}", flush=True)


def run(cmd, cwd=None, timeout=900, env=None):
    """(rc, output) of a command, bounded; rc None on time-out (its group killed)."""
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
        return p.returncode, out.decode(errors="replace")
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        out, _ = p.communicate()
        return None, out.decode(errors="replace") + f"\n(timed out after {timeout:.0f} s)"
    except KeyboardInterrupt:
        os.killpg(p.pid, 9)
        raise


def kit_files():
    """The kit's files as a fresh clone (plus new files not ignored) would have them: relative paths."""
    rc, out = run(["git", "-C", KIT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"], timeout=60)
    if rc == 0:
        files = [f for f in out.split("\0") if f and os.path.isfile(os.path.join(KIT, f))]
        return sorted(set(files))
    files = []
    for folder, dirs, names in os.walk(KIT):
        dirs[:] = [d for d in dirs if d not in ("build", ".git", "__pycache__")]
        files += [os.path.relpath(os.path.join(folder, n), KIT) for n in names]
    return sorted(files)


def clean_copy(dest):
    shutil.rmtree(dest, ignore_errors=True)
    for rel in kit_files():
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(KIT, rel), target)
    return dest


def tree_files(root):
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in ("build", ".git", "__pycache__")]
        for n in names:
            yield os.path.relpath(os.path.join(folder, n), root)


def without_markers(data):
    """A source's bytes without its marker lines and STUB blocks: what the compiler sees of the kit's file."""
    out, stub = [], False
    for line in data.split(b"\n"):
        m = MARKER.match(line.decode(errors="replace"))
        if m:
            stub = m.group(2) == "BEGIN STUB"
            continue
        if not stub:
            out.append(line)
    return b"\n".join(out)


def seed_build(tree, variants=("release", "tsan")):
    """Copies the kit's objects of each variant into tree/build/ so that make compiles only the files whose code
    differs from the kit's (marker lines and STUB blocks, comments to the compiler, do not count): those files
    get the newest time, every other one an older time than the objects.
    Returns the changed files, or None when a header changed (then nothing is copied: everything is built)."""
    changed = []
    for rel in tree_files(tree):
        mine = os.path.join(tree, rel)
        theirs = os.path.join(KIT, rel)
        try:
            with open(mine, "rb") as a, open(theirs, "rb") as b:
                x, y = a.read(), b.read()
            same = x == y or (rel.endswith(SOURCE_SUFFIXES) and without_markers(x) == without_markers(y))
        except OSError:
            same = False
        if not same:
            changed.append(rel)
    if any(rel.endswith((".hpp", ".h", ".mk")) for rel in changed):
        return None
    now = time.time()
    for rel in tree_files(tree):
        stamp = now if rel in changed else now - 100
        os.utime(os.path.join(tree, rel), (stamp, stamp))
    for variant in variants:
        src = os.path.join(KIT, "build", variant)
        if not os.path.isdir(src):
            continue
        for folder, dirs, names in os.walk(src):
            dirs[:] = [d for d in dirs if d not in ("tests", "test-logs", "fuzz")]
            for n in names:
                if not n.endswith((".o", ".a", ".d")) and not os.access(os.path.join(folder, n), os.X_OK):
                    continue
                rel = os.path.relpath(os.path.join(folder, n), src)
                target = os.path.join(tree, "build", variant, rel)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copyfile(os.path.join(folder, n), target)
                shutil.copymode(os.path.join(folder, n), target)
                os.utime(target, (now - 50, now - 50))
    return changed


def build(tree, targets, san="", full=False, timeout=1200):
    cmd = ["make", "--no-print-directory", "-C", tree, f"-j{JOBS}", f"SAN={san}"] + targets
    return run(cmd, timeout=timeout)


def grade(root, args, out, timeout, cwd=None, grader=GRADE):
    """Runs a grader (the kit's by default) on root; returns (rc, output, {(id, stage): test}, seconds)."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, grader, "--root", root, "--out", out] + args
    started = time.monotonic()
    rc, output = run(cmd, cwd=cwd or KIT, timeout=timeout)
    seconds = time.monotonic() - started
    tests = {}
    try:
        with open(os.path.join(out, "results.json")) as f:
            for test in json.load(f)["tests"]:
                assignment_id, stage = test["name"].split()[:2]
                tests[(assignment_id, stage)] = test
    except (OSError, ValueError, KeyError):
        pass
    return rc, output, tests, seconds


def assignments():
    """[(id, lab, number of public stages)] of grading/assignments/*.py, from the grader itself."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); sys.dont_write_bytecode = True\n"
            "from grading import grade\n"
            "for _, a in grade.discover(sys.argv[1] + '/grading'): print(a.id, a.lab, len(a.stages))")
    rc, out = run([sys.executable, "-c", code, KIT], timeout=60)
    if rc != 0:
        raise SystemExit("check: the assignment modules do not load:\n" + out)
    return [(i, lab, int(n)) for i, lab, n in (line.split() for line in out.splitlines() if line.strip())]


def solution_lines(root):
    """{file: set of distinctive solution lines}: lines inside the kit's solution regions that appear nowhere
    else in that file (the ones a handout must not contain)."""
    found = {}
    for rel in kit_files():
        if not rel.endswith(SOURCE_SUFFIXES) or rel.startswith(("grading/", "tools/", "tests/")):
            continue
        try:
            lines = open(os.path.join(root, rel), encoding="utf-8", errors="replace").read().splitlines()
        except OSError:
            continue
        inside, stub, region, outside = False, False, [], []
        for line in lines:
            m = MARKER.match(line)
            if m:
                inside = m.group(2) == "BEGIN SOLUTION"
                stub = m.group(2) == "BEGIN STUB"
                continue
            if stub:  # the stub's lines, as the handout has them (without their leading comment)
                outside.append(re.sub(r"^(//|#) ?", "", line.strip()).strip())
            else:
                (region if inside else outside).append(line.strip())
        outside_set = set(outside)
        distinct = {line for line in region if len(line) >= 12 and line not in outside_set and not line.startswith(
            ("//", "#", "}", "{")) and line not in ("break;", "continue;", "return 0;")}
        if distinct:
            found[rel] = distinct
    return found


def instructor_lines():
    """Distinctive lines of the instructor-only files (hidden stages, known-bad, references, answers, check.py)."""
    public = set()
    for rel in kit_files():
        if rel.startswith(INSTRUCTOR_ONLY):
            continue
        try:
            public.update(line.strip() for line in open(os.path.join(KIT, rel), errors="replace"))
        except OSError:
            pass
    secret = {}
    for rel in kit_files():
        if not rel.startswith(INSTRUCTOR_ONLY):
            continue
        try:
            for line in open(os.path.join(KIT, rel), errors="replace"):
                line = line.strip()
                if len(line) >= 30 and line not in public and not line.startswith(("#", "//", '"""')):
                    secret.setdefault(line, rel)
        except OSError:
            pass
    return secret


def check_leaks(checks, handout):
    name = "nothing of the solutions or the instructor's files is in the handout"
    problems = []
    for rel in tree_files(handout):
        if rel.startswith(INSTRUCTOR_ONLY):
            problems.append(f"{rel}: an instructor's file")
    text_of = {}
    for rel in tree_files(handout):
        try:
            text_of[rel] = open(os.path.join(handout, rel), encoding="utf-8").read()
        except (OSError, UnicodeDecodeError):
            continue
        for number, line in enumerate(text_of[rel].splitlines(), 1):
            if MARKER.match(line):
                problems.append(f"{rel}:{number}: a marker line: {line.strip()}")
    for rel, lines in solution_lines(KIT).items():
        text = text_of.get(rel)
        if text is None:
            continue
        present = {line.strip() for line in text.splitlines()}
        for line in sorted(lines & present):
            problems.append(f"{rel}: a solution line: {line}")
    secret = instructor_lines()
    for rel, text in text_of.items():
        for line in text.splitlines():
            origin = secret.get(line.strip())
            if origin:
                problems.append(f"{rel}: a line of {origin}: {line.strip()[:80]}")
                break
    if problems:
        checks.fail(name, f"{len(problems)} leak(s)", "\n".join(problems[:40]))
    else:
        checks.ok(name, f"{len(text_of)} files read")


def summarize(tests, assignment_id, count):
    return " ".join(f"S{k}:{tests.get((assignment_id, f'S{k}'), {}).get('score', '?')}"
                    f"/{tests.get((assignment_id, f'S{k}'), {}).get('max_score', '?')}" for k in range(1, count + 1))


def read_matrix():
    path = os.path.join(GRADING, "known_bad", "MATRIX")
    rows = []
    if not os.path.isfile(path):
        return rows
    for number, line in enumerate(open(path), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 4)
        if len(parts) < 5:
            rows.append((f"MATRIX:{number}", None, None, None, line))
            continue
        rows.append(tuple(parts))
    return rows


def check_matrix_row(checks, row, all_assignments, base_tree, base_note, scale, full):
    name, assignment_id, stage, kind, what = row
    title = f"known bad {name}: {assignment_id} " + ("passes every stage" if stage == "-" else f"fails exactly {stage}")
    known = {a: (lab, n) for a, lab, n in all_assignments}
    if assignment_id not in known:
        checks.fail(title, f"unknown assignment {assignment_id!r} (MATRIX line: {' '.join(row)})")
        return
    lab, count = known[assignment_id]
    if stage != "-":
        k = int(stage.lstrip("SsHh"))
        if not 1 <= k <= count:
            checks.fail(title, f"{assignment_id} has stages S1..S{count}, not {stage}")
            return
    else:
        k = None
    out = os.path.join(WORK, "out", name)
    started = time.monotonic()
    if kind == "program":
        flag = "--server"
        command = what
        for prefix, option in (("SERVER=", "--server"), ("CLIENT=", "--client")):
            if what.startswith(prefix):
                flag, command = option, what[len(prefix):]
        rc, output, tests, _ = grade(KIT, ["--lab", assignment_id, flag, command, "--timeout-scale", str(scale)],
                                     out, timeout=600 * scale, cwd=os.path.join(GRADING, "known_bad"))
    elif kind == "patch":
        if base_tree is None:
            checks.skip(title, "no tree to patch")
            return
        tree = os.path.join(WORK, "patched", name)
        shutil.rmtree(tree, ignore_errors=True)
        shutil.copytree(base_tree, tree, symlinks=True, ignore=shutil.ignore_patterns("build"))
        rc, output = run(["patch", "-p1", "--batch", "-i", os.path.join(GRADING, "known_bad", what)], cwd=tree,
                         timeout=60)
        if rc != 0:
            checks.fail(title, f"the patch {what} does not apply to the {base_note}", output)
            return
        if not full:
            seed_build(tree)
        rc, output = build(tree, [f"build-{lab}"], timeout=1200 * scale)
        if rc != 0:
            checks.fail(title, f"the patched tree does not build (make build-{lab})", output)
            return
        rc, output, tests, _ = grade(tree, ["--lab", assignment_id, "--timeout-scale", str(scale)], out,
                                     timeout=1800 * scale)
    else:
        checks.fail(title, f"unknown kind {kind!r} (program or patch)")
        return
    seconds = time.monotonic() - started
    scores = summarize(tests, assignment_id, count)
    if not tests:
        checks.fail(title, "the grader wrote no results", output)
        return
    wrong = []
    for j in range(1, count + 1):
        test = tests.get((assignment_id, f"S{j}"))
        if test is None:
            wrong.append(f"S{j} missing")
            continue
        full_marks = test["score"] == test["max_score"]
        if k is None or j < k:
            if not full_marks:
                wrong.append(f"S{j} should pass")
        elif j == k:
            if full_marks or "not run" in test.get("output", ""):
                wrong.append(f"S{j} should fail")
    if wrong:
        checks.fail(title, f"{', '.join(wrong)} ({scores})", output)
    else:
        checks.ok(title, f"{scores}, {seconds:.0f} s")


def main(argv=None):
    p = argparse.ArgumentParser(description="The proof of the handout and the grader (make handout-check).")
    p.add_argument("--full", action="store_true", help="build the handout and patched trees from scratch")
    p.add_argument("--only", nargs="*", default=None,
                   help="run only these checks: markers handout leaks stubs kit matrix (or MATRIX names)")
    p.add_argument("--add-to", help="add `passed failed` to this file's counts (make test's test-summary)")
    p.add_argument("--timeout-scale", type=float, default=float(os.environ.get("TIMEOUT_SCALE") or 1))
    args = p.parse_args(argv)
    only = set(args.only) if args.only else None

    def wanted(what):
        return only is None or what in only

    checks = Checks()
    started = time.monotonic()
    os.makedirs(WORK, exist_ok=True)
    all_assignments = assignments()
    handout_tool = os.path.join(KIT, "tools", "handout.py")
    have_tool = os.path.isfile(handout_tool)
    scale = args.timeout_scale

    if wanted("markers"):
        if have_tool:
            rc, out = run([sys.executable, handout_tool, "check"], cwd=KIT, timeout=120)
            if rc == 0:
                checks.ok("the solution markers are balanced, with known ids (tools/handout.py check)")
            else:
                checks.fail("the solution markers are balanced, with known ids (tools/handout.py check)",
                            f"exit status {rc}", out)
        else:
            checks.skip("the solution markers (tools/handout.py check)", "tools/handout.py is not in the kit yet")

    copy = handout = keep = None
    need_trees = any(wanted(w) for w in ("handout", "leaks", "stubs")) or wanted("matrix") or (
        only is not None and any(r[0] in only for r in read_matrix()))
    if need_trees:
        copy = clean_copy(os.path.join(WORK, "copy"))
        if have_tool:
            for keep_solutions in (False, True):
                dest = os.path.join(WORK, "keep" if keep_solutions else "handout")
                shutil.rmtree(dest, ignore_errors=True)
                cmd = [sys.executable, os.path.join(copy, "tools", "handout.py"), "write", dest]
                # The copy lies inside the kit's git checkout (under build/): git must not see that checkout
                # from the copy, or the copy would look like a checkout with no file of its own.
                env = dict(os.environ, GIT_CEILING_DIRECTORIES=WORK)
                rc, out = run(cmd + (["--keep-solutions"] if keep_solutions else []), cwd=copy, timeout=300,
                              env=env)
                missing = [lab for _, lab, _ in all_assignments
                           if not os.path.isfile(os.path.join(dest, lab, "Makefile"))]
                if rc == 0 and (missing or not os.path.isfile(os.path.join(dest, "grading", "grade.py"))):
                    rc, out = 1, out + f"\nthe tree lacks {' '.join(missing) or 'grading/grade.py'}"
                what = "tools/handout.py write DIR" + (" --keep-solutions" if keep_solutions else "")
                if rc != 0:
                    checks.fail(f"{what} writes the tree from a clean copy", f"exit status {rc}", out)
                elif keep_solutions:
                    keep = dest
                else:
                    handout = dest

    built = False
    if wanted("handout"):
        name = "the handout builds from a clean copy with -Werror"
        if not have_tool:
            checks.skip(name, "tools/handout.py is not in the kit yet")
        elif handout:
            changed = None if args.full else seed_build(handout)
            note = ("everything compiled" if changed is None else
                    f"{sum(1 for c in changed if c.endswith('.cpp'))} changed .cpp compiled, the rest reused "
                    f"from the kit's build; --full builds everything")
            t0 = time.monotonic()
            rc, out = build(handout, ["build"], timeout=1800 * scale)
            if rc == 0:
                built = True
                checks.ok(name, f"{note}; {time.monotonic() - t0:.0f} s")
            else:
                checks.fail(name, f"make build: exit status {rc}", out)

    if wanted("leaks"):
        name = "nothing of the solutions or the instructor's files is in the handout"
        if handout:
            check_leaks(checks, handout)
        else:
            checks.skip(name, "no handout (tools/handout.py is not in the kit yet)")

    if wanted("stubs"):
        name = "every stage scores 0 on the handout's stubs, quickly (the handout's own grader)"
        if not handout or not built:
            checks.skip(name, "no built handout")
        else:
            # The handout's own grader: it must work without anything the handout leaves out.
            rc, out, tests, seconds = grade(handout, ["--timeout-scale", str(scale), "--no-build"],
                                            os.path.join(WORK, "out", "stubs"), timeout=300 * scale,
                                            grader=os.path.join(handout, "grading", "grade.py"))
            scored = [f"{i} {s}" for (i, s), t in tests.items() if t["score"] != 0]
            absent = sorted({i for (i, s), t in tests.items() if "does not exist" in t.get("output", "")})
            expected = sum(n for _, _, n in all_assignments)
            bound = 20 + 10 * len(all_assignments)
            if rc is None:
                checks.fail(name, "the grader hung on the stubs", out)
            elif len(tests) < expected:
                checks.fail(name, f"{len(tests)} stage results, {expected} expected", out)
            elif absent:
                checks.fail(name, f"programs missing from the built handout ({' '.join(absent)})", out)
            elif scored:
                checks.fail(name, f"stages scoring points on stubs: {', '.join(scored)}", out)
            elif seconds > bound * scale:
                checks.fail(name, f"took {seconds:.0f} s (more than {bound} s)", out)
            else:
                checks.ok(name, f"{len(tests)} stages, 0 points, {seconds:.1f} s")

    if wanted("kit"):
        name = "the kit scores full marks" + (" (hidden stages too)" if os.path.isdir(
            os.path.join(GRADING, "hidden")) else "")
        rc, out, tests, seconds = grade(KIT, ["--hidden", "--timeout-scale", str(scale)],
                                        os.path.join(WORK, "out", "kit"), timeout=1800 * scale)
        last = [line for line in out.splitlines() if line.startswith("Score:")]
        if rc == 0:
            checks.ok(name, f"{last[-1] if last else ''}, {len(tests)} stages, {seconds:.0f} s")
        else:
            checks.fail(name, last[-1] if last else f"exit status {rc}", out)

    base_tree, base_note = keep, "--keep-solutions handout"
    if base_tree is None and copy is not None:
        base_tree, base_note = copy, "clean copy of the kit (tools/handout.py is not there yet)"
    for row in read_matrix():
        if row[1] is None:
            checks.fail(row[0], f"a MATRIX line needs 5 fields: {row[4]}")
            continue
        if only is not None and "matrix" not in only and row[0] not in only:
            continue
        check_matrix_row(checks, row, all_assignments, base_tree, base_note, scale, args.full)

    print(f"({time.monotonic() - started:.0f} s{', ' + str(checks.skipped) + ' skipped' if checks.skipped else ''})")
    print(f"{checks.passed} passed, {checks.failed} failed")
    if args.add_to:
        try:
            p0, f0 = (int(x) for x in open(args.add_to).read().split()[:2])
        except (OSError, ValueError):
            p0, f0 = 0, 0
        with open(args.add_to, "w") as f:
            f.write(f"{p0 + checks.passed} {f0 + checks.failed}\n")
    return 0 if checks.failed == 0 else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ncheck: interrupted", file=sys.stderr)
        sys.exit(130)
