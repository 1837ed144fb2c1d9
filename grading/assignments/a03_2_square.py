"""03.2, the multiprocessing lecture's exercise: "a client sends a number and receives back the square".

`server PORT --square` (03_udp_mp/README.md; any mode, the default one here): UDP; the reply to a decimal
number is its square, exactly (Python's integers are the reference); anything else gets a reply that is not a
number (the kit's `error: not a number: ...`), and the server serves on. Black-box: only datagrams and /proc.
"""

import re
import time

from grading.assignments.a03_1_pid import open_udp, request, requests_at_once  # both exercises speak UDP to one server
from grading.harness import Assignment, Program, Stage

NUMBER = re.compile(rb"\s*[-+]?\d+(\.\d+)?\s*")


def expect_square(t, reply, number, what):
    expected = str(int(number) ** 2).encode()
    t.expect_eq(reply.strip(), expected, what=f"the reply to {what} ({number!r})",
                cause="the square of any integer, exactly: big numbers too (Python's int, or digit by digit)")


def alive(srv):
    """True while the server's process is neither gone nor a zombie."""
    if hasattr(srv, "running"):
        return srv.running()
    try:
        with open(f"/proc/{srv.pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def start_square_server(t):
    t.step("start the server: ./server PORT --square")
    srv = t.start("server", ["--square"], port=True, udp=True)
    t.repro_with(srv, f" & ./client localhost {srv.port} 12")
    return srv


def s1_squares(t):
    srv = start_square_server(t)
    u = open_udp(t, srv)
    for number, sent in [("12", b"12"), ("0", b"0"), ("-7", b"-7"), ("12", b"12\n"),
                         ("12345678901234567890", b"12345678901234567890"), ("1000000007", b"1000000007")]:
        t.step(f"send {sent!r}, expect {int(number) ** 2}")
        expect_square(t, request(t, u, sent, f"the number {sent!r}"), number, f"the number {sent!r}")


def interleaved(t, srv, clients, rounds):
    """`clients` sockets each send a number before any reply is read, for `rounds` rounds (every other round in
    reversed order); each must get the square of its own number."""
    sockets = [open_udp(t, srv) for _ in range(clients)]
    for r in range(rounds):
        order = list(range(clients)) if r % 2 == 0 else list(reversed(range(clients)))
        numbers = {i: str(1000 * (r + 1) + 17 * i + 3) for i in order}
        t.step(f"round {r + 1}: clients {[i + 1 for i in order]} each send a number, then read their replies")
        for i in order:
            sockets[i].send(numbers[i].encode())
        for i in order:
            reply = sockets[i].recv(2.0)
            if reply is None:  # lost or late: ask again, once
                reply = request(t, sockets[i], numbers[i].encode(), f"client {i + 1}'s number in round {r + 1}")
            expect_square(t, reply, numbers[i], f"client {i + 1}'s number in round {r + 1}")


def s2_many_clients(t, clients=5, rounds=3, burst=20):
    srv = start_square_server(t)
    interleaved(t, srv, clients, rounds)
    t.step("client S sends a number, reads its square and then stalls (never sends again)")
    stalled = open_udp(t, srv)
    expect_square(t, request(t, stalled, b"99", "client S's number"), "99", "client S's number")
    t.step("three other clients are answered at once, in spite of S")
    for i in range(3):
        u = open_udp(t, srv)
        number = str(31 + i)
        started = time.monotonic()
        expect_square(t, request(t, u, number.encode(), f"client T{i + 1}'s number"), number,
                      f"client T{i + 1}'s number")
        took = time.monotonic() - started
        t.expect(took < t.timeout(1.0), expected=f"client T{i + 1} answered within {t.timeout(1.0):g} s",
                 actual=f"{took:.2f} s", cause="does the server wait for the stalled client's next number?")
    t.step(f"{burst} clients send a number at the same moment")
    replies = requests_at_once(t, srv, [str(7 * i + 5).encode() for i in range(burst)],
                               [f"burst client {i + 1}'s number" for i in range(burst)])
    for i, reply in enumerate(replies):
        expect_square(t, reply, str(7 * i + 5), f"burst client {i + 1}'s number")


BAD_INPUTS = [b"abc", b"12abc", b"0x10", b"--5", b"1.2.3", b"twelve", b" ", b"\x00\xff\xfe binary",
              b"9" * 20 + b"z", "\u00e9l\u00e8ve".encode()]


def s3_bad_input(t, inputs=BAD_INPUTS):
    srv = start_square_server(t)
    u = open_udp(t, srv)
    t.step("send 12, expect 144")
    expect_square(t, request(t, u, b"12", "the datagram b'12'"), "12", "the datagram b'12'")
    for bad in inputs:
        t.step(f"send {bad!r}: expect a reply that is not a number, and the server still running")
        try:
            reply = request(t, u, bad, f"the bad input {bad!r}")
        except Exception:  # no reply: say so, unless the server is gone (then that is the news)
            if alive(srv):
                raise
            t.fail(f"the server exited after the bad input {bad!r} (no reply)",
                   cause="bad input must be answered with an error, never end the server")
        t.expect(not NUMBER.fullmatch(reply), expected=f"an error reply to {bad!r} (not a number)",
                 actual=repr(reply), cause="only a decimal number has a square: say what is wrong with the input")
        t.expect(alive(srv), expected=f"the server running after {bad!r}", actual="it exited",
                 cause="bad input must be answered, never end the server")
    t.step("send an empty datagram (no reply is needed) and then 25: expect 625")
    u.send(b"")
    other = open_udp(t, srv)
    expect_square(t, request(t, other, b"25", "b'25' after the bad inputs"), "25", "b'25' after the bad inputs")
    t.expect(alive(srv), expected="the server running after an empty datagram", actual="it exited",
             cause="an empty datagram must not end the server")


ASSIGNMENT = Assignment(
    id="03.2", lab="03_udp_mp", title="the square server",
    programs={"server": Program("./server", port="positional")},
    stages=[
        Stage("the square of a number", 10, s1_squares),
        Stage("any number of clients at once", 20, s2_many_clients),
        Stage("bad input answered, never a crash", 20, s3_bad_input),
    ],
)
