"""Assignment 06.1: the signal-driven echo server (06_sigio/README.md#assignment-1).

What the README fixes, and so all the stages rely on: `server PORT` is a TCP echo server (every byte a client
sends comes back, in order) driven by signals: F_SETOWN, O_ASYNC | O_NONBLOCK and F_SETSIG on every socket,
the realtime signals taken with sigwaitinfo() (or by handlers that do only async-signal-safe work). When the
realtime queue overflows (RLIMIT_SIGPENDING) the kernel sends plain SIGIO instead, and the server must still
serve every client. SIGTERM stops it. Nothing of its output is read.

S1 echo for several clients: 8 clients connected at once, their messages interleaved, each echoed byte for
   byte (up to 100 KB a message).
S2 a realtime queue overflow still serves everyone: started with RLIMIT_SIGPENDING 4; 10 clients connected
   and echoed once; the server is stopped (SIGSTOP) while each of them sends again, so that 10 events find
   room for 4 signals; continued (SIGCONT), every client must get its echo; new clients are still served.
S3 nothing unsafe in a signal handler: the same traffic, an overflow and SIGTERM, with grading/sigsafe.c
   preloaded (LD_PRELOAD): a call of printf, puts, fwrite, fflush, ..., malloc or free (new, std::string)
   while a handler of the program runs fails the stage. A program with no handler at all (sigwaitinfo)
   passes at once.
"""

import os
import resource
import signal
import subprocess
import time

from grading.harness import Assignment, Fail, Program, Stage

HERE = os.path.dirname(os.path.abspath(__file__))
SHIM_SOURCE = os.path.join(os.path.dirname(HERE), "sigsafe.c")


def message(i, k, size):
    head = f"client {i} message {k}: ".encode()
    body = bytes((i * 7 + k * 13 + j) % 251 for j in range(max(0, size - len(head) - 1)))
    return head + body.replace(b"\n", b".") + b"\n"


def expect_echo(t, conn, data, what, timeout=5.0):
    got = b""
    limit = t.timeout(timeout)
    deadline = time.monotonic() + limit
    while len(got) < len(data):
        if time.monotonic() > deadline:
            raise Fail(f"timed out after {limit:.1f} s: {len(got)} of the {len(data)} bytes of {what} echoed",
                       expected=data, actual=got,
                       cause="is every connection's signal answered, reading (and echoing) until EAGAIN? "
                             "Signal-driven I/O is edge-triggered: one signal for all the bytes that came")
        try:
            got += conn.recv(max(0.05, deadline - time.monotonic()))
        except Fail:
            continue
        if got[:len(data)] != data[:len(got)]:
            break
    if got != data:
        raise Fail(f"{what}: the echo differs from what was sent", expected=data, actual=got,
                   cause="is every byte read written back, in order, the rest kept when send() would block "
                         "(EAGAIN) and sent on the next POLL_OUT?")


def start_server(t, env=None, sigpending=None):
    if sigpending is None:
        t.step("start the server")
        return t.start("server", port=True, env=env)
    t.step(f"start the server with RLIMIT_SIGPENDING {sigpending} (ulimit -i {sigpending}): the realtime queue "
           "overflows easily")
    old = resource.getrlimit(resource.RLIMIT_SIGPENDING)
    resource.setrlimit(resource.RLIMIT_SIGPENDING, (sigpending, old[1]))
    try:
        srv = t.start("server", port=True, env=env)
    finally:
        resource.setrlimit(resource.RLIMIT_SIGPENDING, old)
    return srv


def echo_clients(t, srv, clients=8, messages=4, sizes=(10, 1000, 100000, 3000)):
    t.step(f"{clients} clients connect at once, then send {messages} messages each, interleaved: each echoed")
    conns = [t.connect(srv.port) for _ in range(clients)]
    for k in range(messages):
        batch = [message(i, k, sizes[(i + k) % len(sizes)]) for i in range(clients)]
        for conn, data in zip(conns, batch):
            conn.send(data)
        for i, (conn, data) in enumerate(zip(conns, batch)):
            expect_echo(t, conn, data, f"client {i}'s message {k} ({len(data)} bytes)")
    for conn in conns:
        conn.close()


def s1_echo(t):
    srv = start_server(t)
    t.repro_with(srv, "   # then ../07_epoll/client --port PORT --connections 8 --messages 4")
    echo_clients(t, srv)
    t.expect(srv.running(), expected="the server still running", actual=srv.describe_rc())


def overflow(t, srv, clients=10):
    t.step(f"{clients} clients connect and are echoed once")
    conns = [t.connect(srv.port) for _ in range(clients)]
    for i, conn in enumerate(conns):
        data = message(i, 0, 20)
        conn.send(data)
        expect_echo(t, conn, data, f"client {i}'s first message")
    t.step(f"SIGSTOP the server; each of the {clients} clients sends again (more events than the realtime "
           "queue holds: the kernel sends SIGIO for the rest); SIGCONT")
    srv.signal(signal.SIGSTOP)
    try:
        time.sleep(0.1)
        batch = [message(i, 1, 30) for i in range(clients)]
        for conn, data in zip(conns, batch):
            conn.send(data)
        time.sleep(0.3)
    finally:
        srv.signal(signal.SIGCONT)
    t.step("every client gets its echo, also those whose signal did not fit in the queue")
    for i, (conn, data) in enumerate(zip(conns, batch)):
        try:
            expect_echo(t, conn, data, f"client {i}'s second message (sent while the server was stopped)")
        except Fail as e:
            if not srv.running():
                raise Fail(f"the server died after the realtime queue overflowed ({srv.describe_rc()})",
                           cause="SIGIO's default action ends the process: block it and take it "
                                 "(sigwaitinfo) like the realtime signals, or give it a handler")
            e.cause = ("after an overflow the kernel says only SIGIO, not which descriptors: on SIGIO check "
                       "every connection (and the listening socket), reading until EAGAIN")
            raise
    for conn in conns:
        conn.close()
    t.step("new clients are still served")
    for i in range(3):
        conn = t.connect(srv.port)
        data = message(100 + i, 2, 500)
        conn.send(data)
        expect_echo(t, conn, data, f"new client {i}'s message")
        conn.close()


def s2_overflow(t):
    srv = start_server(t, sigpending=4)
    t.repro_with(srv, "   # run it as: (ulimit -i 4; ./server PORT), then kill -STOP it, send on 10 clients, "
                      "kill -CONT")
    overflow(t, srv)
    t.expect(srv.running(), expected="the server still running", actual=srv.describe_rc())


def build_shim(t):
    out = t.scratch("sigsafe.so")
    t.step("build the shim grading/sigsafe.c: cc -shared -fPIC -O2 -o sigsafe.so sigsafe.c -ldl")
    try:
        done = subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", out, SHIM_SOURCE, "-ldl"],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        t.fail(f"could not build grading/sigsafe.c: {e}", cause="the grader needs a C compiler (cc)")
    if done.returncode != 0:
        t.fail("could not build grading/sigsafe.c:\n" + done.stderr[-1500:], cause="the grader needs cc and -ldl")
    return out


def s3_signal_safe(t, clients=6, overflow_clients=10):
    shim = build_shim(t)
    report = t.scratch("sigsafe.report")
    if os.path.exists(report):
        os.unlink(report)
    env = {"LD_PRELOAD": shim, "SIGSAFE_REPORT": report}
    srv = start_server(t, env=env, sigpending=4)
    t.repro(f"(ulimit -i 4; LD_PRELOAD={shim} SIGSAFE_REPORT={report} ./server PORT)   # then clients, "
            f"kill -STOP/-CONT, kill -TERM; cat {report}")
    echo_clients(t, srv, clients=clients, messages=2, sizes=(100, 5000))
    overflow(t, srv, overflow_clients)
    t.step("SIGTERM: the server stops")
    srv.signal(signal.SIGTERM)
    try:
        srv.wait_exit(10.0, what="the server to stop after SIGTERM")
    except Fail as e:
        e.cause = "does SIGTERM stop the server (taken with sigwaitinfo, or a handler that sets a flag)?"
        raise
    lines = []
    if os.path.exists(report):
        with open(report) as f:
            lines = [line.strip() for line in f if line.strip()]
    handlers = sorted({int(line.split()[1]) for line in lines if line.startswith("handler ")})
    t.log(f"[grader] signal handlers that ran: {handlers or 'none'}")
    unsafe = [line for line in lines if line.startswith("unsafe ")]
    if unsafe:
        def name(signo):
            try:
                return signal.Signals(signo).name
            except ValueError:
                return f"SIGRTMIN+{signo - signal.SIGRTMIN}" if signo >= signal.SIGRTMIN else str(signo)
        shown = sorted({f"{line.split()[1]} in the handler of {name(int(line.split()[2]))}" for line in unsafe})
        note = " (printf of a constant line compiles to puts)" if any(" puts " in line for line in unsafe) else ""
        t.fail("functions that are not async-signal-safe were called inside a signal handler: " + "; ".join(shown)
               + note,
               cause="a handler may interrupt printf (or malloc) in the middle of its own work: in a handler "
                     "call only async-signal-safe functions (man 7 signal-safety): set a volatile "
                     "sig_atomic_t flag or write(2) to a pipe, and print in the main loop; or block the "
                     "signals and take them with sigwaitinfo()")


ASSIGNMENT = Assignment(
    id="06.1", lab="06_sigio", title="the signal-driven echo server",
    programs={"server": Program("./server", port="positional")},
    stages=[Stage("echo for several clients", 10, s1_echo, timeout=60),
            Stage("a realtime queue overflow still serves everyone", 10, s2_overflow, timeout=60),
            Stage("nothing unsafe in a signal handler", 10, s3_signal_safe, timeout=90)],
)
