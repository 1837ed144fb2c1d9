"""03.1, the multiprocessing lecture's exercise: a process per request, answering with its own PID.

`server PORT --mode fork` (03_udp_mp/README.md): UDP; every datagram is answered by a new child process
whose reply names its own process ID (the kit's `Hi ADDR:PORT. This is server PID`: the grader takes the
last number of the reply as the PID). Black-box: only UDP datagrams and /proc (which processes belong to
the server's process group, their parent, zombies).
"""

import os
import re
import threading
import time

from grading.harness import Assignment, Program, Stage

DELAY_MS = 1500  # --delay-ms of the concurrency stage: every reply waits this long in the process answering


def open_udp(t, srv):
    """A UDP socket of the grader to the server's port, which remembers the server (to tell a crash from a loss)."""
    u = t.udp(srv.port)
    u.server = srv
    return u


def request(t, u, message, what, tries=3, wait=1.0):
    """Sends `message` on UDP socket `u` and returns the reply (bytes); sends again after `wait` seconds without
    a reply (UDP may lose a datagram), `tries` times in all, then fails (at once if the server has exited)."""
    srv = getattr(u, "server", None)
    for _ in range(tries):
        u.send(message)
        reply = u.recv(wait)  # the harness scales it
        if reply is not None:
            return reply
        if srv is not None and not srv.running():
            t.fail(f"the server exited ({srv.describe_rc()}) instead of answering {what}",
                   cause="see the tail of its output: a request must never end the server")
    t.fail(f"timed out: no reply to {what} ({message!r}) after {tries} tries, {t.timeout(wait):g} s each",
           cause="does the server answer every datagram, to the address it came from (sendto)?")


def requests_at_once(t, srv, messages, whats):
    """Sends each message from its own socket at the same moment (a thread each) and returns the replies in
    order; the first failure is raised again here, in the stage's thread."""
    sockets = [open_udp(t, srv) for _ in messages]
    replies = [None] * len(messages)

    def ask(i):
        try:
            replies[i] = request(t, sockets[i], messages[i], whats[i])
        except Exception as error:  # harness.Fail, raised again below from the stage's thread
            replies[i] = error

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(messages))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


def pid_of(t, reply, what):
    """The PID a reply names: its last whole number."""
    numbers = re.findall(rb"\d+", reply)
    t.expect(bool(numbers), expected=f"a reply to {what} naming a process ID (a number)", actual=repr(reply),
             cause="the reply should be a hello message with the answering process's own PID")
    return int(numbers[-1])


def group_members(pgid):
    """{pid: (ppid, state)} of every process whose process group is `pgid` (the server's), from /proc."""
    members = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            members[int(entry)] = (int(fields[1]), fields[0])
    return members


def expect_server_child(t, srv, pid, what):
    """The PID is not the server's; if it is still in /proc, it is a process of the server's group."""
    t.expect(pid != srv.pid, expected=f"the reply to {what} naming a process other than the server ({srv.pid})",
             actual=f"the server's own PID {pid}", message=f"the reply to {what} names the server's own PID {pid}",
             cause="is the reply built in the parent? The child process must answer, with its own getpid()")
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return  # already gone (it answered and was reaped): fine
    # Being reaped at this very moment: already unlinked (parent 0, group -1, state X or Z), so gone too. (PIDs 1
    # and 2, init and kthreadd, have parent 0 for good.)
    if fields[0] == "X" or (int(fields[1]) == 0 and pid > 2):
        return
    t.expect(int(fields[2]) == srv.pid, expected=f"PID {pid} (named in the reply to {what}) a process of the "
             f"server's group {srv.pid}", actual=f"a process of group {fields[2]}, parent {fields[1]}",
             cause="the reply must name the process that answers, a child of the server")


def expect_no_zombies(t, srv):
    """Within 1 s (children that just answered are reaped as SIGCHLD comes), no zombie child of the server."""
    deadline = time.monotonic() + t.timeout(1.0)
    while srv.zombies() > 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    t.expect(srv.zombies() == 0, expected="no zombie child of the server once the replies are in",
             actual=f"{srv.zombies()} zombies in /proc",
             cause="are the children reaped (waitpid on SIGCHLD, or join each process once it ended)?")


def start_fork_server(t, extra=()):
    args = ["--mode", "fork", *extra]
    t.step("start the server: " + " ".join(["./server", "PORT", *args]))
    srv = t.start("server", args, port=True, udp=True)
    t.repro_with(srv, f" & ./client localhost {srv.port} --processes 3")
    return srv


def s1_child_pid(t):
    srv = start_fork_server(t)
    t.step("send one datagram and read the reply")
    u = open_udp(t, srv)
    reply = request(t, u, b"Hi from the grader", "the first datagram")
    pid = pid_of(t, reply, "the first datagram")
    t.step(f"the reply {reply!r} names PID {pid}: expect a child of the server, not the server ({srv.pid}) itself")
    expect_server_child(t, srv, pid, "the first datagram")


def s2_distinct(t, sequential=5, parallel=8):
    srv = start_fork_server(t)
    pids = {}
    t.step(f"send {sequential} datagrams one after the other from one socket")
    u = open_udp(t, srv)
    for i in range(sequential):
        what = f"datagram {i + 1}"
        pid = pid_of(t, request(t, u, f"request {i + 1}".encode(), what), what)
        expect_server_child(t, srv, pid, what)
        t.expect(pid not in pids, expected=f"a new process for {what}",
                 actual=f"PID {pid} again (it answered {pids.get(pid)})",
                 cause="is one process answering every datagram? The exercise wants a new one per request")
        pids[pid] = what
    t.step(f"send {parallel} datagrams at once from {parallel} sockets")
    replies = requests_at_once(t, srv, [f"client {i + 1}".encode() for i in range(parallel)],
                               [f"client {i + 1}" for i in range(parallel)])
    for i, reply in enumerate(replies):
        what = f"client {i + 1}'s datagram"
        pid = pid_of(t, reply, what)
        expect_server_child(t, srv, pid, what)
        t.expect(pid not in pids, expected=f"a new process for {what}",
                 actual=f"PID {pid} again (it answered {pids.get(pid)})",
                 cause="every request needs its own process")
        pids[pid] = what
    t.step("no child left a zombie")
    expect_no_zombies(t, srv)


def s3_at_once(t, clients=4, delay_ms=DELAY_MS):
    delay = delay_ms / 1000
    srv = start_fork_server(t, ["--delay-ms", str(delay_ms)])
    t.step(f"{clients} clients send a datagram at once; every reply waits {delay:g} s (--delay-ms) in the process "
           "that answers")
    sockets = [open_udp(t, srv) for _ in range(clients)]
    arrived = [None] * clients
    replies = [None] * clients
    budget = delay + 3.0  # the harness scales it (t.timeout(budget))

    def ask(i):
        sockets[i].send(f"slow request {i + 1}".encode())
        replies[i] = sockets[i].recv(budget)
        arrived[i] = time.monotonic()

    started = time.monotonic()
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    seen = {}  # pid -> parent, every process of the server's group seen while the replies were pending
    while any(thread.is_alive() for thread in threads):
        for pid, (ppid, state) in group_members(srv.pid).items():
            if pid != srv.pid and state != "Z":
                seen[pid] = ppid
        time.sleep(0.02)
    for thread in threads:
        thread.join()
    missing = [i + 1 for i in range(clients) if replies[i] is None]
    if missing:
        t.fail(f"timed out: clients {missing} had no reply within {t.timeout(budget):g} s ({clients} requests of "
               f"{delay:g} s each)",
               cause="are the requests served one at a time? The parent must go back to recvfrom at once")
    times = sorted(arrived)
    spread = times[-1] - times[0]
    t.step(f"the replies came {times[0] - started:.2f} s to {times[-1] - started:.2f} s after the requests")
    t.expect(spread < delay * 0.66, message=f"the replies came one after the other, {spread:.2f} s from the first "
             "to the last", expected=f"all {clients} replies within {delay * 0.66:.2f} s of each other "
             f"(they are served at once)", actual=f"{spread:.2f} s between the first and the last",
             cause=f"a reply every {delay:g} s: does the parent wait for each child (p.join(), waitpid) before "
                   "reading the next datagram?")
    pids = [pid_of(t, reply, f"slow request {i + 1}") for i, reply in enumerate(replies)]
    t.expect(len(set(pids)) == clients, expected=f"{clients} different PIDs", actual=str(pids),
             cause="every request needs its own process")
    for i, pid in enumerate(pids):
        t.expect(pid != srv.pid, expected=f"the reply to slow request {i + 1} naming a child, not the server "
                 f"({srv.pid})", actual=f"the server's PID {pid}", cause="the child must answer with its own PID")
        t.expect(pid in seen, expected=f"PID {pid} (the reply to slow request {i + 1}) seen in /proc as a process "
                 f"of the server's group while it answered", actual=f"processes seen: {sorted(seen)}",
                 cause="the reply must name the process that answers, a child of the server")
    t.step("no child left a zombie")
    expect_no_zombies(t, srv)


ASSIGNMENT = Assignment(
    id="03.1", lab="03_udp_mp", title="a process per request, answering with its own PID",
    programs={"server": Program("./server", port="positional")},
    stages=[
        Stage("the reply names a child, not the server", 10, s1_child_pid),
        Stage("a new process per request, no zombie", 20, s2_distinct),
        Stage("requests served at once", 20, s3_at_once),
    ],
)
