"""07.2, the lecture's level- and edge-triggered notification: the edge-triggered epoll loop (`--mode epoll-et`).

`server PORT --mode epoll-et --quiet` (07_epoll/README.md). Black-box, as 07.1: the grader's clients check the
bytes that come back. Edge-triggered epoll reports a socket when it *becomes* ready: what is left unread (clients
in the listener's backlog, bytes in a socket) gets no new report. The first stage makes that happen for sure:
it stops the server (SIGSTOP) while clients connect and send, then lets it go on (SIGCONT).
"""

import random
import signal

from grading.assignments.a07_1_epoll import connect, exchange, payload, s1_echo, s2_slow_reader, start_server
from grading.harness import Assignment, Program, Stage


def s1_while_stopped(t, clients=10, size=300000, seed=81):
    srv = start_server(t, mode="epoll-et")
    t.repro_with(srv, f"   # then: kill -STOP {srv.pid}; several ./client 127.0.0.1 {srv.port} type lines; "
                      f"kill -CONT {srv.pid}")
    rng = random.Random(seed)
    payloads = [payload(rng, size + rng.randint(0, 999)) for _ in range(clients)]
    t.step(f"stop the server (SIGSTOP); {clients} clients connect (they wait in its backlog) and each sends what its "
           f"socket takes of ~{size // 1000} kB")
    srv.signal(signal.SIGSTOP)
    socks, sent = [], []
    try:
        for i in range(clients):
            socks.append(connect(t, srv.port, f"client {i}"))
            n = 0
            while n < len(payloads[i]):
                try:
                    n += socks[i].send(payloads[i][n:n + 65536])
                except BlockingIOError:
                    break
            sent.append(n)
        t.log(f"[grader] sent while the server was stopped: {sent}")
    finally:
        srv.signal(signal.SIGCONT)
    t.step("let the server go on (SIGCONT): every client must get its bytes back, then the rest of its payload "
           "too, and the server closes each after its EOF")
    exchange(t, srv.port, payloads, 20.0, "the echo of the clients that came while the server was stopped",
             socks=socks, sent=sent,
             stuck_cause="edge-triggered: is every report used up to EAGAIN? Accept until EAGAIN (one report may "
                         "stand for many clients in the backlog) and read until EAGAIN (one report may stand for "
                         "hundreds of kB): what is left is never reported again")


def s2_echo(t):
    s1_echo(t, seed=91, mode="epoll-et")


def s3_slow_reader(t):
    s2_slow_reader(t, seed=92, mode="epoll-et")


ASSIGNMENT = Assignment(
    id="07.2", lab="07_epoll", title="the edge-triggered epoll loop (--mode epoll-et)",
    programs={"server": Program("./server", port="positional")},
    stages=[
        Stage("clients that came while the server was stopped are all served", 30, s1_while_stopped, san=True),
        Stage("many clients echoed byte for byte", 20, s2_echo, san=True),
        Stage("a client that never reads does not block the others", 20, s3_slow_reader, san=True),
    ],
)
