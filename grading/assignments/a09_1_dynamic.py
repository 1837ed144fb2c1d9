"""09.1, lecture 32: the manager's dynamic schedule, one shared queue of columns (`--schedule dynamic`).

`server PORT NWORKERS --schedule dynamic [--width W --height H] [--prefetch K] -o FILE` (the manager, its options
in 09_mandelbrot/README.md), `client HOST PORT` (a worker), `server --local -o FILE` (the reference picture, no
sockets), and the protocol of the README (HELLO mandelbrot 1, CANVAS ..., COLUMN K, PIXELS K ITERATIONS + H
bytes, BYE). Black-box: the grader compares the PGM files byte for byte and reads only exit statuses; in the
later stages it plays workers itself, answering each COLUMN with the column of the `--local` picture, and counts
the columns each of its workers was given.
"""

import select
import socket
import time

from grading.harness import Assignment, Program, Stage


def read_pgm(t, path, what):
    """The pixels of a binary PGM (P5) as (width, height, bytes rows top to bottom)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        t.fail(f"{what}: cannot read {path}: {error}", cause="does -o FILE write the picture to FILE?")
    fields, pos = [], 0
    while len(fields) < 4:
        while pos < len(data) and data[pos:pos + 1].isspace():
            pos += 1
        start = pos
        while pos < len(data) and not data[pos:pos + 1].isspace():
            pos += 1
        if start == pos:
            break
        fields.append(data[start:pos])
    t.expect(len(fields) == 4 and fields[0] == b"P5" and fields[1].isdigit() and fields[2].isdigit(),
             expected=f"{what}: a PGM file (P5 W H 255, then the bytes)", actual=repr(data[:40]))
    width, height = int(fields[1]), int(fields[2])
    return width, height, data[pos + 1:]


def local_picture(t, canvas_args):
    """The reference: ./server --local with the canvas options, its PGM's (width, height, rows)."""
    path = t.scratch("local.pgm")
    t.step(f"the reference picture: ./server --local {' '.join(canvas_args)} -o {path}")
    r = t.run("server", ["--local", *canvas_args, "-o", path], timeout=30.0)
    t.expect_eq(r.rc, 0, what="the exit status of ./server --local")
    return read_pgm(t, path, "the --local picture")


def expect_same_picture(t, path, local, what, cause):
    width, height, rows = read_pgm(t, path, what)
    lw, lh, lrows = local
    t.expect((width, height) == (lw, lh), expected=f"{what}: {lw}x{lh}", actual=f"{width}x{height}")
    if rows != lrows:
        differ = sorted({i % width for i in range(min(len(rows), len(lrows))) if rows[i] != lrows[i]})
        t.fail(f"{what} differs from the --local picture: {len(rows)} bytes against {len(lrows)}, columns that "
               f"differ: {differ[:20]}{' ...' if len(differ) > 20 else ''}", cause=cause)


def s1_same_picture(t, worker_counts=(1, 2, 3), canvas_args=()):
    local = local_picture(t, list(canvas_args))
    for nworkers in worker_counts:
        out = t.scratch(f"dynamic-{nworkers}.pgm")
        args = [str(nworkers), "--schedule", "dynamic", *canvas_args, "-o", out]
        t.step(f"./server PORT {' '.join(args)}, then {nworkers} worker(s): ./client 127.0.0.1 PORT")
        srv = t.start("server", args, port=True)
        t.repro_with(srv, " & " + " & ".join([f"./client 127.0.0.1 {srv.port}"] * nworkers))
        workers = [t.start("client", ["127.0.0.1", str(srv.port)]) for _ in range(nworkers)]
        t.wait_until(lambda: not srv.running() or any(not w.running() and w.rc != 0 for w in workers), 30.0,
                     f"the manager to finish the picture with {nworkers} worker(s)",
                     cause="does --schedule dynamic put every column in the shared queue, and next() hand them out?")
        for i, w in enumerate(workers):
            if not w.running() and w.rc != 0:
                t.fail(f"worker {i} exited ({w.describe_rc()}) before the manager was done",
                       cause="see the manager's output: did it close the connection, or exit?")
        t.expect_eq(srv.wait_exit(5.0), 0, what=f"the manager's exit status ({nworkers} worker(s), dynamic)",
                    cause="see the manager's output (`not implemented` is a stub still there)")
        for i, w in enumerate(workers):
            t.expect_eq(w.wait_exit(5.0), 0, what=f"worker {i}'s exit status (the manager said BYE)")
        expect_same_picture(t, out, local, f"the picture of {nworkers} worker(s), dynamic schedule",
                            cause="every column computed once and stored at its own place (column K of "
                                  "PIXELS K)")


# --- the grader's own workers, speaking the protocol ---------------------------------------------------------


class Worker:
    """A worker played by the grader: answers COLUMN K with column K of the --local picture, after `delay`
    seconds per column (a slower machine), or never (`answer=False`)."""

    def __init__(self, t, port, name, local, delay=0.0, answer=True):
        self.t, self.name, self.local, self.delay, self.answer = t, name, local, delay, answer
        self.buffer, self.asked, self.answered, self.bye, self.closed = b"", [], [], False, False
        self.due = []  # (time, column) to answer
        self.limit = None  # answer only this many columns, then keep the others
        try:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=t.timeout(5.0))
        except OSError as error:
            t.fail(f"{name} could not connect to the manager: {error}", cause="is the manager listening?")
        self.sock.sendall(b"HELLO mandelbrot 1\n")

    def column_bytes(self, k):
        width, height, rows = self.local
        return bytes(rows[row * width + k] for row in range(height))

    def on_readable(self):
        try:
            data = self.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self.t.fail(f"the manager closed {self.name}'s connection before BYE (columns asked: {self.asked})",
                        cause="see the manager's output")
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            self.on_line(line.decode(errors="replace").rstrip("\r"))

    def on_line(self, line):
        t, width = self.t, self.local[0]
        if line.startswith("CANVAS "):
            return
        if line == "BYE":
            self.bye = True
            return
        fields = line.split()
        t.expect(len(fields) == 2 and fields[0] == "COLUMN" and fields[1].isdigit() and int(fields[1]) < width,
                 expected=f"COLUMN K (0 <= K < {width}), CANVAS or BYE for {self.name}", actual=repr(line),
                 cause="the protocol of the README")
        k = int(fields[1])
        self.asked.append(k)
        if self.answer and (self.limit is None or len(self.answered) + len(self.due) < self.limit):
            start = max([time.monotonic()] + [d for d, _ in self.due[-1:]])
            self.due.append((start + self.delay, k))

    def answer_due(self):
        while self.due and self.due[0][0] <= time.monotonic():
            _, k = self.due.pop(0)
            gray = self.column_bytes(k)
            self.sock.sendall(f"PIXELS {k} {sum(255 - g for g in gray)}\n".encode() + gray)
            self.answered.append(k)

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass


def play(t, workers, until, timeout, what, cause):
    """Runs the grader's workers (reads, answers when due) until until() is true."""
    deadline = time.monotonic() + t.timeout(timeout)
    while not until():
        now = time.monotonic()
        if now >= deadline:
            t.fail(f"timed out after {t.timeout(timeout):g} s waiting for {what} (columns asked: " +
                   ", ".join(f"{w.name} {len(w.asked)}" for w in workers) + ")", cause=cause)
        for w in workers:
            if not w.closed:
                w.answer_due()
        open_ = [w for w in workers if not w.closed and not w.bye]
        dues = [w.due[0][0] for w in open_ if w.due]
        wait = min([deadline, now + 0.05] + dues) - now
        ready = select.select([w.sock for w in open_], [], [], max(wait, 0))[0] if open_ else time.sleep(0.02)
        for w in open_:
            if ready and w.sock in ready:
                w.on_readable()


def s2_lost_worker(t, prefetch=2, canvas_args=("--width", "120", "--height", "80"), answered_first=0):
    """A grader worker takes its columns (all --prefetch of them sent at once), then disconnects: the kit's
    worker must be given them, and the picture is still --local's."""
    local = local_picture(t, list(canvas_args))
    out = t.scratch("lost.pgm")
    args = ["2", "--schedule", "dynamic", "--prefetch", str(prefetch), *canvas_args, "-o", out]
    t.step(f"./server PORT {' '.join(args)}; the grader's worker W0 connects first (HELLO mandelbrot 1)")
    srv = t.start("server", args, port=True)
    t.repro_with(srv, f"   # then a worker by hand (nc 127.0.0.1 {srv.port}: HELLO mandelbrot 1) and "
                      f"./client 127.0.0.1 {srv.port}; close nc once it got its COLUMN lines")
    w0 = Worker(t, srv.port, "worker W0", local, answer=answered_first > 0)
    w0.limit = answered_first
    try:
        t.step("then the kit's worker: ./client 127.0.0.1 PORT")
        client = t.start("client", ["127.0.0.1", str(srv.port)])
        if answered_first:
            t.step(f"W0 answers its first {answered_first} column(s)")
            play(t, [w0], lambda: len(w0.answered) >= answered_first, 10.0, f"W0's first {answered_first} "
                 "COLUMN lines", cause="the manager sends a column to every worker once all have said HELLO")
        t.step(f"W0 waits until it holds {prefetch} COLUMN line(s) (--prefetch {prefetch}) and does not answer them")
        play(t, [w0], lambda: len(w0.asked) - len(w0.answered) >= prefetch, 10.0, f"{prefetch} COLUMN lines "
             "out at W0", cause=f"the manager sends up to --prefetch ({prefetch}) columns at once")
        kept = [k for k in w0.asked if k not in w0.answered]
        t.step(f"W0 holds columns {kept} and disconnects without answering them")
        w0.close()
        t.step(f"expect the manager to exit with status 0 within {t.timeout(20.0):g} s, the kit's worker having "
               f"redone columns {kept}")
        t.wait_until(lambda: not srv.running() or not client.running(), 20.0,
                     f"the manager to finish once W0 was lost with columns {kept}",
                     cause="a lost worker's columns must all go back to the shared queue: every one sent and not "
                           f"answered (with --prefetch {prefetch}, {prefetch} of them, not only the first)")
        t.expect_eq(srv.wait_exit(5.0), 0, what="the manager's exit status")
        t.expect_eq(client.wait_exit(5.0), 0, what="the kit's worker's exit status (the manager said BYE)")
        expect_same_picture(t, out, local, "the picture after W0 was lost",
                            cause=f"W0's columns {kept} must be redone by the other worker")
    finally:
        w0.close()


def s3_balance(t, width=60, height=40, delay=0.04):
    """A fast and a slow grader worker: the static schedule gives each half the columns, the dynamic one must give
    the slow one far fewer."""
    canvas_args = ["--width", str(width), "--height", str(height)]
    local = local_picture(t, canvas_args)
    counts = {}
    for schedule in ("static", "dynamic"):
        out = t.scratch(f"{schedule}.pgm")
        args = ["2", "--schedule", schedule, "--prefetch", "2", *canvas_args, "-o", out]
        t.step(f"./server PORT {' '.join(args)}; grader workers W0 (fast: answers at once) and W1 (slow: "
               f"{delay * 1000:g} ms a column)")
        srv = t.start("server", args, port=True)
        t.repro_with(srv, f"   # then two workers, one slow: ./client 127.0.0.1 {srv.port} & "
                          f"./client 127.0.0.1 {srv.port} --delay-ms {int(delay * 1000)}")
        workers = [Worker(t, srv.port, "worker W0", local), Worker(t, srv.port, "worker W1", local, delay=delay)]
        try:
            play(t, workers, lambda: all(w.bye for w in workers), 10.0 + width * delay,
                 f"BYE to both grader workers ({schedule} schedule)",
                 cause="does the manager hand out every column, then say BYE?" if schedule == "static" else
                 "with --schedule dynamic each free worker takes the next column of the shared queue")
            t.expect_eq(srv.wait_exit(5.0), 0, what=f"the manager's exit status ({schedule} schedule)")
        finally:
            for w in workers:
                w.close()
        asked = workers[0].asked + workers[1].asked
        t.expect(sorted(asked) == list(range(width)), expected=f"each of the {width} columns asked once",
                 actual=f"columns asked: {sorted(asked)}", cause="a column answered is never handed out again")
        expect_same_picture(t, out, local, f"the picture ({schedule} schedule)",
                            cause="each column stored at its own place")
        counts[schedule] = (len(workers[0].asked), len(workers[1].asked))
        t.log(f"[grader] {schedule}: fast W0 {counts[schedule][0]} columns, slow W1 {counts[schedule][1]}")
    slow_static, slow_dynamic = counts["static"][1], counts["dynamic"][1]
    t.expect(slow_dynamic * 4 <= width and slow_dynamic * 2 <= slow_static,
             message=f"the slow worker got {slow_dynamic} of {width} columns under the dynamic schedule "
                     f"({slow_static} under the static one)",
             expected=f"the slow worker (W1, {delay * 1000:g} ms a column) given at most {width // 4} columns under "
                      f"--schedule dynamic, while the fast one takes the rest",
             actual=f"columns (fast W0, slow W1): static {counts['static']}, dynamic {counts['dynamic']}",
             cause="a dynamic schedule hands a column to a worker only when it is free (its replies came back): "
                   "dealing the columns out ahead (k mod n, or blocks) is the static schedule again")


ASSIGNMENT = Assignment(
    id="09.1", lab="09_mandelbrot", title="the manager's dynamic schedule: one shared queue of columns",
    programs={"server": Program("./server", port="positional"), "client": Program("./client", port=None)},
    stages=[
        Stage("the picture of --local for 1, 2, 3 workers (dynamic)", 30, s1_same_picture, san=True),
        Stage("a lost worker's columns are redone", 30, s2_lost_worker, san=True),
        Stage("the dynamic schedule balances a slow and a fast worker", 20, s3_balance, san=True),
    ],
)
