#!/usr/bin/env python3
"""grading/grade.py: grades the assignments of the kit (or of a handout tree), one line per stage.

    python3 grading/grade.py [--lab LAB] [--stage K] [--verbose] [--san thread|address] [--timeout-scale X]
                             [--hidden] [--server CMD] [--client CMD] [--root DIR] [--out DIR] [--cwd DIR]

`make grade LAB=... STAGE=... VERBOSE=1 SAN=... TIMEOUT_SCALE=... HIDDEN=1 SERVER=... CLIENT=...` runs it after
building what it grades. The stages come from grading/assignments/*.py (each defines ASSIGNMENT); --lab takes
a lab folder (08_webclient) or an assignment id (08.1). A stage runs only when every stage before it passed.
Prints `Score: got/max` after each assignment and for the whole run, writes build/grade/results.json in
Gradescope's format and every stage's whole log to build/grade/<id>.S<k>.log; exits 0 only at full marks.
"""

from __future__ import annotations

import argparse
import atexit
import importlib.util
import json
import os
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the graded tree
GRADER_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if GRADER_ROOT not in sys.path:
    sys.path.insert(0, GRADER_ROOT)

from grading import harness  # noqa: E402
from grading.harness import Settings, StageResult  # noqa: E402

WIDTH = 44  # the stage titles are padded with dots to this column


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def discover(grading_dir):
    """[(module name, Assignment)] of grading/assignments/*.py, in the order of their file names."""
    folder = os.path.join(grading_dir, "assignments")
    found = []
    for file in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if not file.endswith(".py") or file.startswith("_"):
            continue
        name = file[:-3]
        module = load_module(os.path.join(folder, file), f"grading.assignments.{name}")
        assignment = getattr(module, "ASSIGNMENT", None)
        if assignment is not None:
            found.append((name, assignment))
    return found


def hidden_stages(grading_dir, module_name):
    path = os.path.join(grading_dir, "hidden", module_name + ".py")
    if not os.path.isfile(path):
        return []
    module = load_module(path, f"grading.hidden.{module_name}")
    return list(getattr(module, "STAGES", []))


def shown_path(path, cwd):
    rel = os.path.relpath(path, cwd)
    return path if rel.startswith("..") else rel


def stage_line(result: StageResult):
    title = f"{result.name} {result.title} "
    dots = "." * max(3, WIDTH - len(title))
    head = f"{title}{dots}"
    if result.status == "ok":
        return f"{head} OK  {result.score}/{result.points} ({result.seconds:.1f} s)"
    if result.status == "n/a":
        return f"{head} OK  {result.score}/{result.points} ({result.note})"
    if result.status == "not run":
        return f"{head} {result.note}"
    return f"{head} FAIL 0/{result.points}  log: {result.log_shown}"


def parse_args(argv):
    p = argparse.ArgumentParser(description="Grades the assignments: one line per stage, then the score.")
    p.add_argument("--lab", help="a lab folder (08_webclient) or an assignment id (08.1); default: all")
    p.add_argument("--stage", type=int, help="run stages S1..SK only")
    p.add_argument("--verbose", action="store_true", help="print every step and the programs' exchanges")
    p.add_argument("--san", choices=["thread", "address"], help="run the san=True stages on that build")
    p.add_argument("--timeout-scale", type=float, default=1.0, help="multiply every time bound (slow machine)")
    p.add_argument("--hidden", action="store_true", help="also the instructor's stages of grading/hidden/")
    p.add_argument("--server", help="grade this command instead of the kit's server (any language)")
    p.add_argument("--client", help="grade this command instead of the kit's client")
    p.add_argument("--root", default=GRADER_ROOT, help="the tree whose programs are graded (default: this kit)")
    p.add_argument("--out", help="where logs and results.json go (default: ROOT/build/grade)")
    p.add_argument("--cwd", default=None, help="where SERVER=/CLIENT= commands run (default: the current folder)")
    p.add_argument("--no-build", action="store_true", help="do not build the sanitizer variants stages need")
    p.add_argument("--list-labs", action="store_true", help="print the lab folders the selection grades, and exit")
    args = p.parse_args(argv)
    if args.timeout_scale <= 0:
        p.error("--timeout-scale must be positive")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    root = os.path.realpath(args.root)
    cwd = os.path.realpath(args.cwd or os.getcwd())
    out_dir = os.path.realpath(args.out) if args.out else os.path.join(root, "build", "grade")
    overrides = {}
    if args.server:
        overrides["server"] = args.server
    if args.client:
        overrides["client"] = args.client
    settings = Settings(root=root, cwd=cwd, san=args.san, timeout_scale=args.timeout_scale, overrides=overrides,
                        verbose=args.verbose, build=not args.no_build, out=out_dir)
    grading_dir = os.path.join(GRADER_ROOT, "grading")

    assignments = discover(grading_dir)
    if args.lab:
        lab = args.lab.rstrip("/")
        assignments = [(m, a) for m, a in assignments if lab in (a.lab, a.id)]
        if not assignments:
            known = sorted({a.lab for _, a in discover(grading_dir)})
            print(f"grade: no assignment in lab {lab!r} (labs with assignments: {' '.join(known)})", file=sys.stderr)
            return 2
    if not assignments:
        print("grade: no assignment found in grading/assignments/", file=sys.stderr)
        return 2
    if args.list_labs:
        print(" ".join(sorted({a.lab for _, a in assignments})))
        return 0
    if args.stage is not None:
        counts = [len(a.stages) for _, a in assignments]
        if args.stage < 1 or args.stage > max(counts):
            print(f"grade: --stage must be between 1 and {max(counts)}", file=sys.stderr)
            return 2
    if args.hidden and not os.path.isdir(os.path.join(grading_dir, "hidden")):
        print("grade: no hidden stages here (grading/hidden/ is the instructor's, never in the handout)")

    os.makedirs(out_dir, exist_ok=True)
    tests = []
    total = total_max = 0
    start = time.monotonic()
    for index, (module_name, assignment) in enumerate(assignments):
        stages = [(f"S{k}", s) for k, s in enumerate(assignment.stages, 1)]
        if args.stage is not None:
            stages = stages[:args.stage]
        elif args.hidden and os.path.isdir(os.path.join(grading_dir, "hidden")):
            stages += [(f"H{k}", s) for k, s in enumerate(hidden_stages(grading_dir, module_name), 1)]
        for old_log in os.listdir(out_dir):  # a log of an earlier run never passes for this one's
            if old_log.startswith(assignment.id + ".") and old_log.endswith(".log"):
                os.remove(os.path.join(out_dir, old_log))
        if index:
            print()
        print(f"{assignment.id} {assignment.title}", flush=True)
        got = possible = 0
        first_failed = None
        failed = []  # the stages that failed or did not run, in order
        for name, stage in stages:
            log_path = os.path.join(out_dir, f"{assignment.id}.{name}.log")
            if stage.needs is None or name.startswith("H"):
                missing = first_failed
            else:
                missing = next((f for f in failed if f in stage.needs), None)
            if missing is not None:
                result = StageResult(name, stage.title, stage.points, 0, "not run",
                                     note=f"not run (needs {missing})")
                with open(log_path, "w") as f:
                    f.write(f"{assignment.id} {name} {stage.title}\n{result.note}: it runs once every stage before "
                            f"it passes\n")
            elif stage.needs_san and any(n in overrides for n in assignment.programs):
                which = " and ".join(f"{n.upper()}=" for n in assignment.programs if n in overrides)
                san_name = "ThreadSanitizer" if stage.needs_san == "thread" else "AddressSanitizer"
                result = StageResult(name, stage.title, stage.points, stage.points, "n/a",
                                     note=f"not applicable with {which}: the grader cannot build that program "
                                          f"with {san_name}; full points")
                with open(log_path, "w") as f:
                    f.write(f"{assignment.id} {name} {stage.title}\n{result.note}\n")
            else:
                if args.verbose:
                    print(f"  {name} {stage.title}: steps", flush=True)
                result = harness.run_stage(settings, assignment, stage, name, log_path)
            result.log_shown = shown_path(log_path, cwd)
            print(stage_line(result), flush=True)
            if result.status == "fail":
                for line in result.detail.splitlines():
                    print("    " + line)
                sys.stdout.flush()
            if result.status in ("fail", "not run"):
                failed.append(name)
                if first_failed is None:
                    first_failed = name
            got += result.score
            possible += result.points
            output = result.detail if result.status == "fail" else (result.note or "passed")
            if result.status == "fail":
                output += f"\n(whole log: {result.log_shown})"
            tests.append({"name": f"{assignment.id} {name} {stage.title}", "score": result.score,
                          "max_score": result.points, "status": "passed" if result.score == result.points
                          else "failed", "output": output})
            if name.startswith("H"):  # Gradescope: the instructor's stages show once the grades are published
                tests[-1]["visibility"] = "after_published"
        print(f"Score: {got}/{possible}", flush=True)
        total += got
        total_max += possible
    if len(assignments) > 1:
        print()
        print(f"Score: {total}/{total_max}")
    results = {"score": total, "execution_time": round(time.monotonic() - start, 1), "tests": tests}
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    return 0 if total == total_max else 1


def _terminate(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    atexit.register(harness.kill_everything)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored (&)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        harness.kill_everything()
        print("\ngrade: interrupted; every program it started is stopped", file=sys.stderr)
        sys.exit(130)
