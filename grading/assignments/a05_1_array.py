"""05.1 (UNP's serv08, "Prethreaded Server Main-Thread accept()"): the shared array of 05_prethread --mode main.

What the README's spec fixes, and so all the stages rely on: `server PORT NTHREADS --mode main --array-size K
--idle-timeout 0` speaks lab 04's byte-count protocol (a line with a count from 1 to 1048576, that many bytes
back, again or close); NTHREADS threads are made at start-up; the main thread accepts and stores each
connected descriptor in an array of K slots, from which the threads take them. A full array makes the main
thread wait (asleep, no CPU) until a thread takes a descriptor: no accepted client is ever lost, closed
unanswered or served twice. Ctrl-C (SIGINT) stops it: exit 0.

Black-box: the grader plays the clients over TCP and reads the replies, the exit status and /proc (the
process's descriptors and CPU time); nothing of the output but a sanitizer's report.

S1 every client served: 12 clients at once, 3 requests each, 4 threads, an array of 16 (never full);
   every reply exact.
S2 a full array makes the main thread wait, never overwrite: 1 thread held by a client, an array of 2,
   4 more clients with a request each; none closed unanswered while the array is full, the process asleep
   (CPU time from /proc), then each one answered exactly once it is its turn.
S3 no race under ThreadSanitizer: S1's load and S2's full array with the TSan build; any report fails it.
"""

import os
import signal
import socket
import threading
import time

from grading.harness import Assignment, Program, Stage

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU time of the whole process (every thread), from /proc/PID/stat."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def start(t, nthreads, array_size):
    t.step(f"start the server: {nthreads} thread(s), --mode main, --array-size {array_size}, --idle-timeout 0")
    srv = t.start("server", [str(nthreads), "--mode", "main", "--array-size", str(array_size),
                             "--idle-timeout", "0"], port=True)
    return srv


def request(sock, count, timeout):
    """Asks for `count` bytes and reads exactly that many; returns the bytes received (fewer: closed early)."""
    sock.sendall(f"{count}\n".encode())
    sock.settimeout(timeout)
    got = 0
    while got < count:
        data = sock.recv(min(65536, count - got))
        if not data:
            break
        got += len(data)
    return got


def stop(t, srv):
    t.step("Ctrl-C (SIGINT) the server: it must exit with status 0")
    srv.signal(signal.SIGINT)
    rc = srv.wait_exit(5.0, what="the server to exit after SIGINT")
    t.expect_eq(rc, 0, what="the exit status after SIGINT",
                cause="does close() wake every worker sleeping in get() and the main thread waiting in put()?")


def load(t, srv, clients=12, sizes=(1000, 1, 70000)):
    """`clients` connections at once, each asking for every size in turn; returns a list of problems."""
    problems = []
    lock = threading.Lock()
    limit = t.timeout(10.0)

    def one(i):
        try:
            with socket.create_connection(("127.0.0.1", srv.port), timeout=limit) as sock:
                for size in sizes:
                    got = request(sock, size, limit)
                    if got != size:
                        with lock:
                            problems.append(f"client {i + 1}: asked for {size} bytes, got {got} and then the end")
                        return
        except OSError as e:
            with lock:
                problems.append(f"client {i + 1}: {e}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return problems


def s1_all_served(t):
    srv = start(t, 4, 16)  # more slots than clients: the array never fills here (that is S2)
    t.repro_with(srv, f"   # then ../05_prethread/client localhost {srv.port} 12 3 70000")
    t.step("12 clients at once, each asks for 1000, 1, then 70000 bytes on its connection")
    problems = load(t, srv)
    t.expect(not problems, expected="every reply exact, for every client",
             actual="; ".join(problems[:4]) + (" ..." if len(problems) > 4 else ""),
             cause="is every stored descriptor taken by exactly one worker (iget advanced under the mutex), "
                   "and does a worker sleep on the condition variable while the array is empty?")
    stop(t, srv)


def closed_now(sock):
    """True when the server already closed or reset this connection."""
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.setblocking(True)


def full_array(t, srv, check_cpu):
    """One thread held by client A; B, C fill the array of 2; D waits in the main thread; E in the backlog."""
    limit = t.timeout(5.0)
    t.step("client A asks for 1 byte and gets it: the only thread now serves A, which then sends nothing")
    a = socket.create_connection(("127.0.0.1", srv.port), timeout=limit)
    if request(a, 1, limit) != 1:
        t.fail("client A got no reply to `1`", cause="does a worker take the first descriptor stored?")
    before = srv.fds()
    if check_cpu:
        t.step("idle for 0.5 s (one thread busy with A, the array empty): the process must sleep")
        cpu0 = cpu_seconds(srv.pid)
        time.sleep(0.5)
        spent = cpu_seconds(srv.pid) - cpu0
        t.expect(spent < 0.2, expected="under 0.2 s of CPU in 0.5 s with nothing to do", actual=f"{spent:.2f} s",
                 cause="does a thread spin on the empty array instead of sleeping on a condition variable?")
    sizes = {"B": 100, "C": 200, "D": 300, "E": 400}
    t.step("clients B, C, D, E connect and each sends one request (100, 200, 300, 400 bytes): B and C fill "
           "the array, the main thread holds D and must wait, E waits in the backlog")
    socks = {}
    for name, size in sizes.items():
        socks[name] = socket.create_connection(("127.0.0.1", srv.port), timeout=limit)
        socks[name].sendall(f"{size}\n".encode())
    deadline = time.monotonic() + t.timeout(2.0)
    while srv.fds() < before + 3 and time.monotonic() < deadline:  # B, C and D accepted (no failure here)
        time.sleep(0.01)
    time.sleep(0.3)  # the window in which an overwriting array would drop B or C
    if check_cpu:
        t.step("the array full for 1 s: the main thread must sleep (CPU time of the process from /proc)")
        cpu0 = cpu_seconds(srv.pid)
        time.sleep(1.0)
        spent = cpu_seconds(srv.pid) - cpu0
        t.expect(spent < 0.3, expected="under 0.3 s of CPU in 1 s while the array is full", actual=f"{spent:.2f} s",
                 cause="the main thread must sleep on a condition variable (not_full) while the array is full, "
                       "not spin around the mutex")
    t.step("none of B, C, D, E may be closed or answered while A holds the only thread")
    for name, sock in socks.items():
        t.expect(not closed_now(sock), expected=f"{name}'s connection open, waiting its turn",
                 actual="closed by the server unanswered",
                 cause="a full array must make the main thread wait: storing at iput when iput caught up with "
                       "iget overwrites (and closes) a descriptor no worker has taken yet")
    t.step("A closes: the thread serves B, C, D and E, each its own count exactly, once")
    a.close()
    for name, sock in socks.items():
        size = sizes[name]
        try:
            sock.settimeout(t.timeout(5.0))
            got = 0
            while got < size:
                data = sock.recv(65536)
                if not data:
                    break
                got += len(data)
        except OSError as e:
            t.fail(f"client {name}: {e}", cause="is every stored descriptor served?")
        t.expect(got == size, expected=f"{name} gets {size} bytes", actual=f"{got} bytes, then the end",
                 cause="a descriptor overwritten in the array is lost (closed unanswered)")
        sock.setblocking(False)
        try:
            extra = sock.recv(1)
        except BlockingIOError:
            extra = None
        except OSError:
            extra = None
        t.expect(not extra, expected=f"nothing more for {name}", actual="more bytes: answered twice?",
                 cause="is the same descriptor taken by two workers (iget advanced outside the mutex)?")
        sock.close()


def s2_full_array(t):
    srv = start(t, 1, 2)
    t.repro_with(srv, f"   # then `nc localhost {srv.port}` (type 1, then nothing: A), and in other terminals "
                      f"./client localhost {srv.port} 4 1 100")
    full_array(t, srv, check_cpu=True)
    stop(t, srv)


def s3_tsan(t):
    srv = start(t, 3, 2)
    t.repro_with(srv, "   # after make 05_prethread SAN=thread; then the load client of S1")
    t.step("the load of S1 on the ThreadSanitizer build")
    problems = load(t, srv, clients=8)
    t.expect(not problems, expected="every reply exact", actual="; ".join(problems[:4]))
    stop(t, srv)
    report = srv.sanitizer_report()
    if report:
        t.fail("ThreadSanitizer reported a problem (expected: no report); its first lines:\n" + report,
               cause="are iget, iput and the count read and written only under the mutex (in put, get, and "
                     "the wait predicates)?")
    srv = start(t, 1, 2)
    t.step("S2's full array on the ThreadSanitizer build")
    full_array(t, srv, check_cpu=False)
    stop(t, srv)
    report = srv.sanitizer_report()
    if report:
        t.fail("ThreadSanitizer reported a problem with the array full (expected: no report):\n" + report,
               cause="is the count of free slots read outside the mutex while the main thread waits?")


ASSIGNMENT = Assignment(
    id="05.1", lab="05_prethread", title="the main thread's accept into the shared array (iget/iput)",
    programs={"server": Program("./server", port="positional")},
    stages=[Stage("every client served", 15, s1_all_served, san=True, timeout=60),
            Stage("a full array makes the main thread wait, never overwrite", 20, s2_full_array, timeout=60),
            Stage("no race under ThreadSanitizer", 15, s3_tsan, needs_san="thread", timeout=90)],
)
