"""Instructor-only stages of 01.1 (make grade HIDDEN=1; never in the handout). They vary what the public
stages fix: other answers, many answers in one burst, a Windows line end, and pure spinning."""

from grading.harness import Stage

PROMPT = r"\(y/n\)"


def h1_other_answers(t):
    t.step("start stopflag, its input a pipe")
    srv = t.start("server", stdin=True)
    t.repro_with(srv, "   # answer x, an empty line, yes, then n with a Windows line end (\\r\\n)")
    srv.wait_output(PROMPT, 5.0, what="the question (y/n)")
    for answer in (b"x\n", b"\n", b"yes\n"):
        t.step(f"answer {answer!r}: neither y nor n, it must ask again")
        srv.write(answer)
        srv.wait_output(PROMPT, 5.0, what=f"the question again after the answer {answer!r}")
    t.step("answer n ending in \\r\\n (a Windows terminal or telnet): it must stop")
    srv.write(b"n\r\n")
    rc = srv.wait_exit(3.0, what="the program to exit after the answer n\\r\\n")
    t.expect(rc == 0, expected="exit status 0", actual=srv.describe_rc())


def h2_burst(t):
    count = 25
    t.step(f"start stopflag and write {count} answers y and then n in one burst, then close the input")
    srv = t.start("server", stdin=True)
    t.repro_with(srv, f"   # with (yes y | head -{count}; echo n) as its input")
    srv.write(b"y\n" * count + b"n\n")
    srv.close_stdin()
    rc = srv.wait_exit(5.0, what="the program to exit after the burst")
    prompts = srv.output.count("(y/n)")
    t.expect(prompts == count + 1, expected=f"{count + 1} questions (one per answer)", actual=f"{prompts}",
             cause="is every line read as one answer (none lost, none read twice)?")
    t.expect(rc == 0, expected="exit status 0", actual=srv.describe_rc())


def h3_spinning(t):
    t.step("start stopflag --interval-ms 0 (pure spinning: no pause between two checks)")
    srv = t.start("server", ["--interval-ms", "0"], stdin=True)
    t.repro_with(srv, "   # answer n")
    srv.wait_output(PROMPT, 5.0, what="the question (y/n)")
    t.step("answer n: the spinning threads must see the flag within 2 s")
    srv.write(b"n\n")
    rc = srv.wait_exit(2.0, what="every thread to stop after the answer n",)
    t.expect(rc == 0, expected="exit status 0", actual=srv.describe_rc(),
             cause="a flag the compiler may read once (a plain bool) makes a spinning loop endless")


STAGES = [Stage("other answers ask again, \\r\\n is understood", 5, h1_other_answers, timeout=30),
          Stage("a burst of answers", 5, h2_burst, timeout=30),
          Stage("pure spinning stops too (--interval-ms 0)", 5, h3_spinning, timeout=30)]
