"""Assignment 01.1 (lecture 32, assignment 1): three threads and a shared stop flag (01_mtserver/stopflag).

What the README fixes, and so all the stages rely on: the program asks a question ending in `(y/n)` on its
standard output; the answer `y` asks again; the answer `n`, or the end of the input, stops all three threads
and the program exits with status 0. Nothing else of its output is read.

S1 the prompt and the answers: the prompt comes, `y` asks again, `n` ends the program.
S2 every thread stops: at least 3 threads while it asks (the asker and two busy waiters); after `n`, and
   after the end of the input, the program exits 0 within a bound.
S3 no race under ThreadSanitizer: the same conversation with the TSan build; any report fails it.
"""

from grading.harness import Assignment, Program, Stage

PROMPT = r"\(y/n\)"


def converse(t, srv, bound=5.0):
    """The conversation of the README: prompt, y, prompt again, n, exit 0."""
    t.step("wait for the question ending in (y/n)")
    srv.wait_output(PROMPT, bound, what="the question (y/n)")
    t.step("answer y: it must ask again")
    srv.write(b"y\n")
    srv.wait_output(PROMPT, bound, what="the question again after the answer y")
    t.step("answer n: every thread stops and the program exits with status 0")
    srv.write(b"n\n")
    rc = srv.wait_exit(bound, what="the program to exit after the answer n")
    return rc


def s1_prompt(t):
    t.step("start stopflag, its input a pipe")
    srv = t.start("server", stdin=True)
    t.repro_with(srv, "   # then answer y, then n")
    rc = converse(t, srv)
    t.expect(rc == 0, expected="exit status 0", actual=srv.describe_rc(),
             cause="does main return 0 once every thread has stopped?")


def s2_threads_stop(t):
    for how in ("the answer n", "the end of the input (Ctrl-D)"):
        t.step(f"start stopflag (to be stopped by {how})")
        srv = t.start("server", stdin=True)
        srv.wait_output(PROMPT, 5.0, what="the question (y/n)")
        t.step("while it asks: at least 3 threads (the one that asks, two that busy-wait), from /proc")
        t.wait_until(lambda: srv.threads() >= 3 or not srv.running(), 2.0,
                     what="3 threads (the one that asks and two busy waiters)",
                     cause="are the two busy-waiting threads started before the question is asked?")
        count = srv.threads()
        t.expect(count >= 3, expected="at least 3 threads while it asks", actual=f"{count} thread(s)",
                 cause="are the two busy-waiting threads started before the question is asked?")
        if how.startswith("the answer"):
            t.step("answer n: every thread must stop, and the program exit 0, within 2 s")
            srv.write(b"n\n")
            t.repro_with(srv, "   # answer n: it must end at once")
        else:
            t.step("close its input (end of input, as Ctrl-D): every thread must stop within 2 s")
            srv.close_stdin()
            t.repro_with(srv, "   # press Ctrl-D: it must end at once")
        rc = srv.wait_exit(2.0, what=f"every thread to stop after {how}")
        t.expect(rc == 0, expected="exit status 0", actual=srv.describe_rc(),
                 cause="does main join every thread and return 0?")


def s3_tsan(t):
    t.step("start the ThreadSanitizer build of stopflag")
    srv = t.start("server", stdin=True)
    t.repro_with(srv, "   # after make 01_mtserver SAN=thread; answer y, then n")
    converse(t, srv)
    report = srv.sanitizer_report()
    if report:
        t.fail("ThreadSanitizer reported a problem (expected: no report); its first lines:\n" + report,
               cause="is the shared flag a plain bool? Make it a std::atomic<bool> (load/store)")
    t.expect(srv.rc == 0, expected="exit status 0", actual=srv.describe_rc())


ASSIGNMENT = Assignment(
    id="01.1", lab="01_mtserver", title="three threads and a shared stop flag (stopflag)",
    programs={"server": Program("./stopflag")},
    stages=[Stage("the prompt and the answers", 10, s1_prompt, san=True, timeout=30),
            Stage("every thread stops after the answer", 10, s2_threads_stop, san=True, timeout=30),
            Stage("no race under ThreadSanitizer", 10, s3_tsan, needs_san="thread", timeout=40)],
)
