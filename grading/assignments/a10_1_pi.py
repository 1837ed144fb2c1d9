"""10.1, lecture 32 assignment 3: the pi manager's job queue of (samples, seed) tuples.

`server PORT NWORKERS --jobs J --samples S --seed X` (10_pi_montecarlo/README.md: the manager), `client HOST
PORT` (the worker), and the protocol of the README (HELLO pi 1, JOB J SAMPLES SEED, RESULT J SAMPLES INSIDE,
BYE). Black-box: the grader reads only exit statuses and numbers in the manager's output, never its wording:
- the estimate is the last decimal number between 2 and 4 printed with at least 6 decimals (the kit prints
  `estimate of pi 3.1417680750 (...)`); it must equal 4 x (sum of the counts) / (sum of the samples) to the
  digits printed;
- a result is reported when the count INSIDE its RESULT carried appears in the output as a whole number, or
  the job's own estimate 4 x INSIDE / SAMPLES with at least 4 decimals.
In the later stages the grader itself plays the workers over the protocol; they answer with counts of its own
choosing (the manager cannot tell, and must add up whatever comes back).
"""

import re
import select
import socket
import time
from fractions import Fraction

from grading.harness import Assignment, Program, Stage

MASK = (1 << 64) - 1
DECIMAL = re.compile(r"(?<![\d.])\d+\.\d+(?![\d.])")


def count_inside(samples, seed):
    """A job's count with the README's generator (SplitMix64, one draw per sample, the exact integer test)."""
    state, inside, radius_squared = seed, 0, 1 << 66
    for _ in range(samples):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        x, y = 2 * (z >> 32) + 1, 2 * (z & 0xFFFFFFFF) + 1
        inside += x * x + y * y <= radius_squared
    return inside


def exact_estimate(counts, samples):
    """4 x (sum of the counts) / (sum of the samples), as a fraction: counts is {job: inside}."""
    return Fraction(4 * sum(counts.values()), samples * len(counts))


def printed_estimate(output):
    """The estimate in the manager's output: its last decimal number in [2, 4] with at least 6 decimals."""
    found = [m.group(0) for m in DECIMAL.finditer(output) if len(m.group(0).split(".")[1]) >= 6 and
             2 <= float(m.group(0)) <= 4]
    return found[-1] if found else None


def same_to_printed_digits(printed, exact):
    decimals = len(printed.split(".")[1])
    return abs(Fraction(printed) - exact) <= Fraction(1, 2 * 10**decimals) + Fraction(1, 10**12)


def expect_estimate(t, output, exact, what):
    printed = printed_estimate(output)
    t.expect(printed is not None, expected=f"the estimate of pi in the manager's output ({what}): a number "
             f"with 6 or more decimals, {float(exact):.10f}", actual="no such number",
             cause="print the estimate with enough decimals to check it (%.10f)")
    t.expect(same_to_printed_digits(printed, exact), expected=f"{float(exact):.10f} ({what})", actual=printed,
             message=f"the estimate printed is {printed}, not {float(exact):.10f}",
             cause="the estimate is 4 x (sum of the counts) / (sum of the samples), every job counted once")
    return printed


def reported(output, inside, samples):
    """True when the output shows a job's result: its count as a whole number, or its own estimate."""
    if re.search(rf"(?<![\d.]){inside}(?![\d.])", output):
        return True
    own = Fraction(4 * inside, samples)
    return any(len(m.group(0).split(".")[1]) >= 4 and same_to_printed_digits(m.group(0), own)
               for m in DECIMAL.finditer(output))


def manager_args(nworkers, jobs, samples, seed):
    return [str(nworkers), "--jobs", str(jobs), "--samples", str(samples), "--seed", str(seed)]


def run_with_workers(t, nworkers, jobs, samples, seed):
    """The manager and `nworkers` of the program's own workers: returns the manager's output."""
    args = manager_args(nworkers, jobs, samples, seed)
    t.step(f"start the manager: ./server PORT {' '.join(args)}, then {nworkers} worker{'s' if nworkers != 1 else ''}: "
           "./client 127.0.0.1 PORT")
    srv = t.start("server", args, port=True)
    t.repro_with(srv, " & " + " & ".join([f"./client 127.0.0.1 {srv.port}"] * nworkers))
    workers = [t.start("client", ["127.0.0.1", str(srv.port)]) for _ in range(nworkers)]
    t.step(f"expect the manager to exit with status 0 within {t.timeout(20.0):g} s, and every worker too")
    # A worker that fails (a stub, a crash) ends the wait at once: the manager would wait for it for ever.
    t.wait_until(lambda: not srv.running() or any(not w.running() and w.rc != 0 for w in workers), 20.0,
                 "the manager to finish the jobs", cause="does the manager hand out every job and exit once all "
                 "are done?")
    for i, worker in enumerate(workers):
        if not worker.running() and worker.rc != 0:
            t.fail(f"worker {i} exited ({worker.describe_rc()}) before the manager was done",
                   cause="see the worker's output: a worker exits 0 once the manager says BYE")
    rc = srv.wait_exit(5.0)
    t.expect_eq(rc, 0, what=f"the manager's exit status ({nworkers} worker{'s' if nworkers != 1 else ''})")
    for i, worker in enumerate(workers):
        t.expect_eq(worker.wait_exit(5.0), 0, what=f"worker {i}'s exit status (the manager said BYE)")
    return srv.output


# --- the grader's own workers, speaking the protocol ---------------------------------------------------------


class Worker:
    """A worker played by the grader: one TCP connection, lines in and out."""

    def __init__(self, t, port, name):
        self.t, self.name, self.buffer, self.closed = t, name, b"", False
        try:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=t.timeout(5.0))
        except OSError as error:
            t.fail(f"{name} could not connect to the manager: {error}", cause="is the manager listening?")

    def send_line(self, line):
        try:
            self.sock.sendall(line.encode() + b"\n")
        except OSError as error:
            self.t.fail(f"{self.name} could not send {line!r}: {error}", cause="did the manager close the connection?")

    def line_ready(self):
        return b"\n" in self.buffer

    def wait_readable(self, timeout):
        """True once a line (or the manager's close) is there to read, False after `timeout` seconds."""
        return self.line_ready() or bool(select.select([self.sock], [], [], timeout)[0])

    def read_line(self, timeout, waiting_for):
        """The next line (without its newline); fails on a time-out or when the manager closes first."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                self.t.fail(f"timed out after {timeout:g} s: {self.name} waited for {waiting_for}",
                            cause="does the manager hand out the next job as soon as a result comes back?")
            try:
                data = self.sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                self.t.fail(f"the manager closed {self.name}'s connection while it waited for {waiting_for} "
                            f"(got {self.buffer!r})", cause="see the manager's output")
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode(errors="replace").rstrip("\r")

    def read_job(self, timeout, jobs, samples, seed):
        return self.parse_job(self.read_line(timeout, "a JOB line"), jobs, samples, seed)

    def parse_job(self, line, jobs, samples, seed):
        """The job number of a `JOB J SAMPLES SEED` line, checked against the queue's tuples."""
        fields = line.split()
        t = self.t
        t.expect(len(fields) == 4 and fields[0] == "JOB" and all(f.isdigit() for f in fields[1:]),
                 expected=f"`JOB J SAMPLES SEED` for {self.name}", actual=repr(line),
                 cause="the protocol of the README: JOB J SAMPLES SEED")
        job, job_samples, job_seed = (int(f) for f in fields[1:])
        t.expect(0 <= job < jobs, expected=f"a job number from 0 to {jobs - 1}", actual=line)
        t.expect(job_samples == samples and job_seed == (seed + job) & MASK,
                 expected=f"job {job}'s tuple ({samples} samples, seed {seed + job}): --samples, --seed + J",
                 actual=line, cause="the job queue holds (samples, seed) tuples: job j has the seed --seed + j")
        return job

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass


def chosen_inside(job, samples):
    """The count the grader's workers report for `job`: distinctive numbers, never in a port or a PID by chance."""
    return samples * 7854 // 10000 - 9000 + 1111 * (job + 1)


def open_workers(t, srv, count):
    workers = []
    for i in range(count):
        t.step(f"grader worker W{i} connects and says HELLO pi 1")
        w = Worker(t, srv.port, f"worker W{i}")
        workers.append(w)
        w.send_line("HELLO pi 1")
    return workers


def answer(w, job, samples):
    w.send_line(f"RESULT {job} {samples} {chosen_inside(job, samples)}")


def expect_bye(t, w):
    line = w.read_line(t.timeout(5.0), "BYE (every job is done)")
    t.expect_eq(line, "BYE", what=f"what the manager tells {w.name} once every job is done")


def finish(t, srv, counts, samples, what):
    t.step(f"expect the manager to exit with status 0 within {t.timeout(5.0):g} s, the estimate "
           f"{float(exact_estimate(counts, samples)):.10f}")
    t.expect_eq(srv.wait_exit(5.0), 0, what="the manager's exit status once every job is done")
    expect_estimate(t, srv.output, exact_estimate(counts, samples), what)


# --- the stages ----------------------------------------------------------------------------------------------


def s1_estimate(t, jobs=6, samples=100000, seed=1):
    output = run_with_workers(t, 1, jobs, samples, seed)
    printed = printed_estimate(output)
    t.expect(printed is not None, expected="the estimate of pi in the manager's output: a number with 6 or more "
             "decimals", actual="no such number", cause="print the estimate with enough decimals (%.10f)")
    t.expect(abs(float(printed) - 3.141592653589793) < 0.01, expected="an estimate within 0.01 of pi",
             actual=printed, cause="count the samples with x^2 + y^2 <= 1 among every job's samples")


def s2_independent(t, jobs=6, samples=100000, seed=1, worker_counts=(1, 2, 3)):
    t.step(f"count the jobs with the README's generator (SplitMix64): {jobs} jobs of {samples} samples, seeds "
           f"{seed} to {seed + jobs - 1}")
    exact = exact_estimate({j: count_inside(samples, seed + j) for j in range(jobs)}, samples)
    estimates = {}
    for nworkers in worker_counts:
        output = run_with_workers(t, nworkers, jobs, samples, seed)
        estimates[nworkers] = printed_estimate(output)
        workers = f"{nworkers} worker{'s' if nworkers != 1 else ''}"
        t.expect(estimates[nworkers] is not None and same_to_printed_digits(estimates[nworkers], exact),
                 message=f"with {workers} the estimate is {estimates[nworkers]}, the jobs give {float(exact):.10f}",
                 expected=f"{float(exact):.10f} (the README's generator: each job counts its samples from its own "
                 "seed)", actual=f"{estimates[nworkers]} (estimates so far, by number of workers: {estimates})",
                 cause="does every job start a generator from its own seed? A generator shared across jobs (or "
                       "seeded once per worker) makes the estimate depend on who ran which job")
    r = t.run("server", ["--help"], timeout=5.0)
    if "--local" in r.out + r.err:
        t.step("the CLI has --local: ./server --local with the same jobs")
        local = t.run("server", ["--local", "--jobs", str(jobs), "--samples", str(samples), "--seed", str(seed)],
                      timeout=20.0)
        t.expect_eq(local.rc, 0, what="the exit status of ./server --local")
        expect_estimate(t, local.out + local.err, exact, "--local")


def s3_queue(t, nworkers=2, jobs=7, samples=1000000, seed=40):
    """The grader's workers answer at once: every job goes out exactly once with its tuple, then BYE to all."""
    srv = t.start("server", manager_args(nworkers, jobs, samples, seed), port=True)
    t.repro_with(srv, f"   # then the protocol by hand: nc 127.0.0.1 {srv.port} (type HELLO pi 1, then "
                      "RESULT J SAMPLES INSIDE for each JOB)")
    workers = open_workers(t, srv, nworkers)
    try:
        t.step("every grader worker answers each JOB at once, until the manager says BYE")
        counts, pending = {}, list(workers)
        deadline = time.monotonic() + t.timeout(10.0)
        while pending:
            ready = [w for w in pending if w.line_ready()]
            if not ready:
                left = deadline - time.monotonic()
                if left <= 0:
                    t.fail(f"timed out: {[w.name for w in pending]} got no JOB or BYE within {t.timeout(10.0):g} s",
                           cause="does the manager hand the jobs out once NWORKERS workers said HELLO?")
                readable = select.select([w.sock for w in pending], [], [], left)[0]
                ready = [w for w in pending if w.sock in readable]
                if not ready:
                    continue
            w = ready[0]
            line = w.read_line(t.timeout(5.0), "a JOB or BYE")
            if line == "BYE":
                t.expect(len(counts) == jobs, expected=f"BYE to {w.name} once all {jobs} jobs are counted",
                         actual=f"BYE after {len(counts)} results", cause="BYE only when every job is done")
                pending.remove(w)
                continue
            job = w.parse_job(line, jobs, samples, seed)
            t.expect(job not in counts, expected=f"job {job} handed out once", actual=f"job {job} again",
                     cause="a job answered is done: it never goes out again")
            counts[job] = chosen_inside(job, samples)
            answer(w, job, samples)
        t.expect_eq(sorted(counts), list(range(jobs)), what="the jobs handed out")
        finish(t, srv, counts, samples, f"the counts the grader's workers sent for jobs 0 to {jobs - 1}")
    finally:
        for w in workers:
            w.close()


def s4_as_it_arrives(t, jobs=4, samples=1000000, seed=7):
    """W1 keeps every job it is given while W0 answers the others: each of W0's results must show before W1
    answers. A manager may send jobs ahead (several out at a worker at once): W0 answers what it gets until
    no more comes, and W1 then answers everything it holds."""
    srv = t.start("server", manager_args(2, jobs, samples, seed), port=True)
    t.repro_with(srv, f"   # then two workers by hand (nc 127.0.0.1 {srv.port}), one of them slow to answer")
    w0, w1 = open_workers(t, srv, 2)
    try:
        held = [w1.read_job(t.timeout(5.0), jobs, samples, seed)]
        t.step(f"W1 gets job {held[0]} and keeps it (no RESULT yet)")
        counts = {}
        job = w0.read_job(t.timeout(5.0), jobs, samples, seed)
        while True:
            inside = chosen_inside(job, samples)
            t.step(f"W0 answers job {job}: RESULT {job} {samples} {inside}; the manager's output must show it "
                   f"while W1 still has job {held[0]}")
            answer(w0, job, samples)
            counts[job] = inside
            deadline = time.monotonic() + t.timeout(2.0)
            while not reported(srv.output, inside, samples) and time.monotonic() < deadline:
                time.sleep(0.02)
            t.expect(reported(srv.output, inside, samples),
                     message=f"job {job}'s result is not in the manager's output {t.timeout(2.0):g} s after W0 sent "
                     f"it (job {held[0]} still out at W1)",
                     expected=f"job {job}'s result ({inside} inside, or its estimate "
                     f"{float(Fraction(4 * inside, samples)):.6f}) in the manager's output within "
                     f"{t.timeout(2.0):g} s", actual="not there",
                     cause=f"is each result printed as it arrives? The manager must not wait for job {held[0]}, "
                           "still out at the other worker, to print the others")
            if len(counts) + 1 >= jobs or not w0.wait_readable(t.timeout(1.0)):
                break  # the jobs left are out at W1 (sent ahead to it)
            job = w0.read_job(t.timeout(5.0), jobs, samples, seed)
        t.step("W1 answers what it holds at last, and every JOB after it, until BYE")
        while True:
            for j in held:
                if j not in counts:
                    answer(w1, j, samples)
                    counts[j] = chosen_inside(j, samples)
            line = w1.read_line(t.timeout(5.0), "a JOB or BYE")
            if line == "BYE":
                break
            held.append(w1.parse_job(line, jobs, samples, seed))
        t.expect_eq(sorted(counts), list(range(jobs)), what="the jobs done before BYE",
                    cause="BYE only when every job is done")
        expect_bye(t, w0)
        finish(t, srv, counts, samples, "every job counted once")
    finally:
        w0.close()
        w1.close()


def s5_lost_worker(t, jobs=5, samples=1000000, seed=3, answered_first=0, half_line=False):
    """W1 takes a job (after answering `answered_first` ones) and disconnects (after half a RESULT line when
    `half_line`): W0 must be given that job again."""
    srv = t.start("server", manager_args(2, jobs, samples, seed), port=True)
    t.repro_with(srv, f"   # then two workers by hand (nc 127.0.0.1 {srv.port}); close one while it holds a JOB")
    w0, w1 = open_workers(t, srv, 2)
    counts = {}
    try:
        for _ in range(answered_first):
            job = w1.read_job(t.timeout(5.0), jobs, samples, seed)
            t.step(f"W1 answers job {job}")
            answer(w1, job, samples)
            counts[job] = chosen_inside(job, samples)
        lost = w1.read_job(t.timeout(5.0), jobs, samples, seed)
        if half_line:
            t.step(f"W1 takes job {lost}, sends half a RESULT line (no newline) and disconnects")
            w1.sock.sendall(f"RESULT {lost} {samples}".encode())
        else:
            t.step(f"W1 takes job {lost} and disconnects without answering it")
        w1.close()
        t.step("W0 answers every JOB until BYE: it must be given job " + str(lost) + " too")
        while True:
            line = w0.read_line(t.timeout(5.0), f"a JOB (job {lost} must be redone) or BYE")
            if line == "BYE":
                break
            job = w0.parse_job(line, jobs, samples, seed)
            t.expect(job not in counts, expected=f"job {job} handed out once it is done", actual=f"job {job} again",
                     cause="a job whose result was counted is never handed out again")
            counts[job] = chosen_inside(job, samples)
            answer(w0, job, samples)
        t.expect(lost in counts, expected=f"job {lost} (lost with W1) redone by W0",
                 actual=f"jobs done: {sorted(counts)}", cause="a lost worker's job must go back to the queue")
        t.expect_eq(sorted(counts), list(range(jobs)), what="the jobs done before BYE",
                    cause="BYE only when every job is done")
        finish(t, srv, counts, samples, f"every job counted once, job {lost} by W0")
    finally:
        w0.close()
        w1.close()


ASSIGNMENT = Assignment(
    id="10.1", lab="10_pi_montecarlo", title="the job queue of (samples, seed) tuples",
    programs={"server": Program("./server", port="positional"), "client": Program("./client", port=None)},
    stages=[
        Stage("the estimate of pi, one worker", 10, s1_estimate, san=True),
        Stage("the same estimate for 1, 2, 3 workers", 20, s2_independent, san=True),
        Stage("the job queue over the protocol", 10, s3_queue, san=True),
        Stage("each result reported as it arrives", 10, s4_as_it_arrives, san=True),
        Stage("a lost worker's job is redone", 20, s5_lost_worker, san=True),
    ],
)
