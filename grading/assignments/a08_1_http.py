"""08.1: the concurrent HTTP server of the lab handout, graded black-box.

What the handout fixes, and all this relies on: the command line `server [-h] [-p PORT] [-v] [-d] [-f FOLDER]
[-c {thread,process,...}]` (default thread), HTTP/1.x GET and HEAD of the files under FOLDER, 404 for a file
that is not there, and a Ctrl-C that lets the clients already connected finish and joins every thread. What
the server prints is never read. Concurrency is seen from outside: clients served while another one sits
idle, requests answered in the reverse of the order their connections came in, requests delayed by -d that
overlap, and the threads, processes and sockets of the server's process group in /proc.

Stages:
  S1 files, HEAD, 404, inside the folder (the default mode: no -c)
  S2 -c thread: a thread per client
  S3 -c process: a child per client, every child reaped
  S4 Ctrl-C: requests in flight are answered, then the server exits 0 with nothing left
grading/hidden/a08_1_http.py varies the counts, the order and the files (HIDDEN=1).
"""
import os
import random
import re
import signal
import socket
import threading
import time

from grading.harness import Assignment, Fail, Program, Stage, escape

# ---------------------------------------------------------------------------------------------------------
# HTTP, from the client's side (plain sockets, so that nothing is assumed of the server's framing)


class Response:
    """One HTTP response as read: status (None if the server sent nothing), headers (lower-case names),
    body, raw (every byte read), and elapsed (seconds from the request to the last byte)."""

    def __init__(self):
        self.status, self.headers, self.body, self.raw, self.elapsed = None, {}, b"", b"", 0.0
        self.error = None  # "closed", "timed out" or "malformed", when the response did not arrive whole

    def describe(self):
        head = self.raw.split(b"\r\n\r\n", 1)[0]
        what = escape(head[:200]) if head else "nothing"
        return f"{what} ({len(self.raw)} bytes{', ' + self.error if self.error else ''})"


def request_bytes(method, target, close=True):
    return (f"{method} {target} HTTP/1.1\r\nHost: localhost\r\n" +
            ("Connection: close\r\n" if close else "") + "\r\n").encode("latin-1")


def open_client(t, port, timeout):
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError as e:
        t.fail(f"could not connect to the server on port {port}: {e.strerror or e}",
               cause="did the server exit or crash (its output is in the log)?")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def send(t, sock, data):
    try:
        sock.sendall(data)
    except OSError as e:
        t.fail(f"sending a request failed: {e.strerror or e}",
               cause="did the server close the connection (or exit) before reading the request?")


def read_response(sock, timeout, head_only=False, started=None):
    """Reads one response: the head, then Content-Length bytes of body (none for HEAD), or up to EOF when
    there is no Content-Length. Never waits past timeout in all."""
    started = started if started is not None else time.monotonic()
    deadline = time.monotonic() + timeout
    r = Response()
    data = b""

    def fill():
        left = deadline - time.monotonic()
        if left <= 0:
            r.error = "timed out"
            return False
        sock.settimeout(left)
        try:
            chunk = sock.recv(1 << 16)
        except socket.timeout:
            r.error = "timed out"
            return False
        except OSError as e:
            r.error = f"closed ({e.strerror})"
            return False
        if not chunk:
            r.error = "closed"
            return False
        nonlocal data
        data += chunk
        return True

    while b"\r\n\r\n" not in data:
        if not fill():
            r.raw, r.elapsed = data, time.monotonic() - started
            return r
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
    if not m:
        r.raw, r.error, r.elapsed = data, "malformed", time.monotonic() - started
        return r
    r.status = int(m.group(1))
    for line in lines[1:]:
        name, _, value = line.partition(":")
        r.headers[name.strip().lower()] = value.strip()
    length = r.headers.get("content-length")
    if head_only:  # whatever follows the head before the end of the connection (or a moment) is a body
        deadline = min(deadline, time.monotonic() + 0.5)
        before = len(data)
        while fill():
            pass
        r.error = None
        r.body = rest + data[before:]
    elif length is not None and length.isdigit():
        while len(rest) < int(length):
            before = len(data)
            if not fill():
                break
            rest += data[before:]
        r.body = rest
    else:
        while fill():
            pass
        if r.error == "closed":
            r.error = None
        r.body = data.split(b"\r\n\r\n", 1)[1]
    r.raw, r.elapsed = data, time.monotonic() - started
    return r


def fetch(t, port, target, method="GET", timeout=5.0, raw=None):
    """One request on a new connection; the Response."""
    started = time.monotonic()
    with open_client(t, port, t.timeout(timeout)) as sock:
        send(t, sock, raw if raw is not None else request_bytes(method, target))
        return read_response(sock, t.timeout(timeout), head_only=method == "HEAD", started=started)


def expect_file(t, r, content, what):
    """The response is a 200 whose body is content, byte for byte."""
    if r.status is None:
        t.fail(f"{what}: no response, got {r.describe()}",
               cause="does the server answer every request, and close or keep the connection open after it?")
    t.expect(r.status == 200, message=f"{what} was answered {r.status}, not 200", expected="HTTP/1.1 200 OK",
             actual=r.raw.split(b"\r\n\r\n", 1)[0], cause="is the path taken relative to the folder given with -f?")
    length = r.headers.get("content-length")
    t.expect(length is not None and length.isdigit() and int(length) == len(content),
             message=f"{what}: the Content-Length header is not the file's size",
             expected=f"Content-Length: {len(content)}", actual=f"Content-Length: {length}",
             cause="the Content-Length header must be the file's size in bytes")
    if r.body != content:
        first = next((i for i, (a, b) in enumerate(zip(r.body, content)) if a != b), min(len(r.body), len(content)))
        t.fail(f"{what}: the body differs from the file from byte {first} on ({len(r.body)} bytes received, "
               f"{len(content)} in the file): got {escape(r.body[first:first + 40])}, expected "
               f"{escape(content[first:first + 40])}",
               cause="is the file read and sent in binary mode ('rb', bytes), and sent whole (sendall)?")


# ---------------------------------------------------------------------------------------------------------
# /proc: the server's process group, its threads, children, zombies and sockets


def group_of(srv):
    """The server's process group: the harness starts every program as the leader of a group of its own."""
    return getattr(srv, "pgid", None) or srv.pid


def group_tasks(pgid):
    """{pid: (state, number of threads)} for every process of the group."""
    tasks = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            tasks[int(name)] = (fields[0], int(fields[17]))
    return tasks


def counts(srv):
    """(live processes, threads in all of them, zombies) of the server's process group."""
    tasks = group_tasks(group_of(srv))
    live = [n for state, n in tasks.values() if state != "Z"]
    return len(live), sum(live), len(tasks) - len(live)


def socket_holders(srv):
    """{socket inode: set of pids of the group holding it}."""
    holders = {}
    for pid, (state, _) in group_tasks(group_of(srv)).items():
        if state == "Z":
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                holders.setdefault(int(link[8:-1]), set()).add(pid)
    return holders


def server_side(port, client_port):
    """(inode, bytes not yet read) of the server's end of a connection, from /proc/net/tcp*; inode 0 while
    the connection waits in the listen backlog, not yet accepted; None if not found."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, remote = fields[1], fields[2]
                    if int(local.rsplit(":", 1)[1], 16) == port and int(remote.rsplit(":", 1)[1], 16) == client_port:
                        return int(fields[9]), int(fields[4].split(":")[1], 16)
        except OSError:
            continue
    return None


def wait_until(t, condition, timeout):
    """Polls condition (a /proc read) until it is true or timeout passes; its last value."""
    deadline = time.monotonic() + t.timeout(timeout)
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(0.02)


def wait_accepted(t, srv, socks, timeout=3.0, read=False):
    """Waits until the server has accepted every connection in socks (read: and read all it was sent);
    returns {client sock: set of pids holding its server end} or None at the deadline."""
    def check():
        holders = socket_holders(srv)
        result = {}
        for s in socks:
            side = server_side(srv.port, s.getsockname()[1])
            if not side or side[0] == 0 or side[0] not in holders or (read and side[1] != 0):
                return None
            result[s] = holders[side[0]]
        return result
    return wait_until(t, check, timeout)


# ---------------------------------------------------------------------------------------------------------
# The site the stages serve: made fresh in the stage's scratch folder, with a secret beside it


class Site:
    def __init__(self, t, big_size=4 << 20, seed=8):
        rng = random.Random(seed)
        base = t.scratch("site")
        self.folder = os.path.join(base, "www")
        os.makedirs(os.path.join(self.folder, "sub", "deeper"), exist_ok=True)
        self.secret = b"secret outside the folder " + str(rng.random()).encode() + b"\n"
        self.secret_path = os.path.join(base, "secret.txt")
        self.files = {
            "/index.html": b"<!DOCTYPE html>\n<html><body><h1>08.1</h1><img src=\"img.bin\"></body></html>\n",
            "/notes.txt": b"plain text\r\nwith CRLF\nand LF\n",
            "/img.bin": bytes(range(256)) * 64 + b"\x00\r\n\r\n\x00",
            "/sub/deeper/page.html": b"<p>two levels down</p>\n",
            "/big.bin": rng.randbytes(big_size),
        }
        for name, content in self.files.items():
            with open(self.folder + name, "wb") as f:
                f.write(content)
        with open(self.secret_path, "wb") as f:
            f.write(self.secret)


def start(t, site, mode=None, delay=False):
    args = (["-c", mode] if mode else []) + (["-d"] if delay else []) + ["-f", site.folder]
    t.step(f"start the server: {' '.join(['server', '-p', 'PORT'] + args)}")
    return t.start("server", args, port=True)


def check_alive(t, srv, site, after):
    r = fetch(t, srv.port, "/index.html", timeout=12.0)  # -d may be on
    if r.status != 200:
        t.fail(f"after {after}, GET /index.html got {r.describe()}",
               cause="did that request crash the server or its thread?")


# ---------------------------------------------------------------------------------------------------------
# S1: files byte for byte, HEAD, 404, never outside the folder


def s1_files(t, big_size=4 << 20, seed=8, extra_outside=()):
    site = Site(t, big_size, seed)
    srv = start(t, site)  # no -c: the handout's default, thread
    t.repro_with(srv, f" &  curl -s http://localhost:{srv.port}/index.html")
    for name in sorted(site.files, key=lambda n: len(site.files[n])):
        t.step(f"GET {name} ({len(site.files[name])} bytes)")
        expect_file(t, fetch(t, srv.port, name, timeout=10.0), site.files[name], f"GET {name}")

    t.step("HEAD /notes.txt")
    r = fetch(t, srv.port, "/notes.txt", method="HEAD")
    t.expect(r.status == 200, message=f"HEAD /notes.txt was answered {r.status}, not 200",
             expected="HTTP/1.1 200 OK", actual=r.raw.split(b"\r\n\r\n", 1)[0],
             cause="HEAD is answered like GET, without the body")
    t.expect_eq(r.headers.get("content-length"), str(len(site.files["/notes.txt"])),
                what="HEAD /notes.txt: the Content-Length (the size GET would send)")
    t.expect(r.body == b"", message=f"HEAD /notes.txt was answered with a body ({len(r.body)} bytes)",
             expected="no body after the head of a HEAD response", actual=r.body,
             cause="HEAD answers with the same head as GET and no body")

    t.step("GET /nothing.html, a file that does not exist")
    r = fetch(t, srv.port, "/nothing.html")
    t.expect(r.status == 404, message=f"GET /nothing.html was answered {r.status}, not 404",
             expected="HTTP/1.1 404 Not Found", actual=r.raw.split(b"\r\n\r\n", 1)[0],
             cause="a file that is not in the folder is answered 404 Not Found")
    check_alive(t, srv, site, "the 404")

    outside = ["/../secret.txt", "/%2e%2e/secret.txt", "/sub/../../secret.txt", "/sub/deeper/../../../secret.txt",
               "/sub/%2E%2E/%2e%2e/secret.txt", "/.%2e/secret.txt", "/" + site.secret_path] + list(extra_outside)
    for target in outside:
        t.step(f"GET {target} sent as is (a file outside the folder)")
        t.repro_with(srv, f" &  printf 'GET {target} HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' | nc localhost {srv.port}")
        r = fetch(t, srv.port, target)
        leaked = site.secret in r.raw
        t.expect(not leaked and (r.status is None or r.status >= 400),
                 message=f"GET {target} was answered {r.status}" +
                         (", with the file from outside the folder" if leaked else ""),
                 expected="a 4xx status (400, 403 or 404) and never the file", actual=r.raw[:300],
                 cause="the path must stay below the folder: refuse any '..' segment after percent-decoding, "
                       "or compare os.path.realpath of the result with the folder's")
    check_alive(t, srv, site, "the requests for files outside the folder")


# ---------------------------------------------------------------------------------------------------------
# S2 and S3: concurrency, seen from outside


def serve_hint(kind):
    if kind == "async":
        return ("-c async must never wait on one client: every socket in the event loop (asyncio streams), "
                "the -d delay an await asyncio.sleep, never time.sleep")
    what = {"thread-pool": "a thread of the pool", "process-pool": "a process of the pool"}.get(kind, f"its own {kind}")
    return f"-c {kind} must serve each connection in {what} while the accept loop goes on accepting"


def idle_peer_check(t, srv, kind, idle_count=1, delay=0.0):
    """Idle clients connect and send nothing; another client must still be answered."""
    t.step(f"{idle_count} client(s) connect and send nothing; then another client sends GET /index.html")
    idle = [open_client(t, srv.port, t.timeout(2.0)) for _ in range(idle_count)]
    try:
        wait_accepted(t, srv, idle[:1], timeout=2.0)
        wait = 2.0 + delay
        r = fetch(t, srv.port, "/index.html", timeout=wait)
        if r.status != 200:
            t.fail(f"client {idle_count + 1} waited {t.timeout(wait):.1f} s behind idle client 1 and got "
                   f"{r.describe()}", cause="are connections served one at a time? " + serve_hint(kind))
    finally:
        for s in idle:
            s.close()


def out_of_order_check(t, srv, kind, n, order=None, delay=0.0):
    """n connections opened in order 1..n, their requests sent in order (default: n..1), each answered
    before the next is sent."""
    order = list(order) if order is not None else list(reversed(range(n)))
    t.step(f"open {n} connections, then send their requests in the order {[i + 1 for i in order]}, each answered "
           f"before the next is sent")
    socks = [open_client(t, srv.port, t.timeout(2.0)) for _ in range(n)]
    try:
        for i in order:
            send(t, socks[i], request_bytes("GET", "/index.html"))
            r = read_response(socks[i], t.timeout(2.0 + delay))
            if r.status != 200:
                t.fail(f"client {i + 1} of {n} (connections opened in order 1 to {n}) waited "
                       f"{t.timeout(2.0 + delay):.1f} s while some opened before it had sent nothing yet, and got "
                       f"{r.describe()}",
                       cause="are connections served one at a time, in the order they were accepted? " +
                             serve_hint(kind))
    finally:
        for s in socks:
            s.close()


def measure_delay(t, srv, site):
    t.step("GET /index.html alone, with -d: how long the delay is")
    r = fetch(t, srv.port, "/index.html", timeout=15.0)
    expect_file(t, r, site.files["/index.html"], "GET /index.html with -d")
    t.expect(r.elapsed >= 0.2, message=f"with -d a request took {r.elapsed:.3f} s: no delay to see",
             expected="-d makes a request take noticeably longer (at least 0.2 s)",
             actual=f"{r.elapsed:.3f} s", cause="does -d (--delay) add a delay (e.g. a sleep) before the response, "
                                              "as the handout's Testing section says?")
    return r.elapsed


def overlap_check(t, srv, site, clients, delay, target="/img.bin", bound_fraction=None, kind="thread"):
    """clients requests at once under -d must overlap: all done well before clients x delay. Returns the peak
    (processes, threads) of the server's group seen in /proc while they were served. bound_fraction: the
    share of clients x delay allowed (for pools, which serve their size at a time); by default about one
    delay, as a thread or process per connection takes."""
    t.step(f"{clients} clients send GET {target} at the same moment (-d: one alone takes {delay:.2f} s)")
    # One after another they would take clients x delay; all at the same time, about one delay.
    allowed = clients * delay * bound_fraction if bound_fraction else min(clients * delay / 2, delay * 3 + 1.0)
    bound = min(t.timeout(allowed), clients * delay * 0.75)
    results = [None] * clients
    peak = [0, 0]
    done = threading.Event()

    def one(i):
        try:
            results[i] = fetch(t, srv.port, target, timeout=bound / t.timeout(1.0) + 0.5)  # fetch scales it
        except (OSError, Fail) as e:  # said below, for every client at once
            results[i] = Response()
            results[i].error = str(e)

    def sample():
        while not done.is_set():
            procs, threads, _ = counts(srv)
            peak[0], peak[1] = max(peak[0], procs), max(peak[1], threads)
            done.wait(0.02)

    # daemon threads, and the sampler stopped in finally: the stage's own time bound may interrupt the joins
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        started = time.monotonic()
        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(clients)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.monotonic() - started
    finally:
        done.set()
    sampler.join()
    answered = sorted(r.elapsed for r in results if r.status is not None and not r.error)
    if elapsed > bound or len(answered) < clients:
        t.fail(f"{clients} requests at once: {len(answered)} answered within {bound:.2f} s"
               + (f" (the first after {answered[0]:.2f} s, the last after {answered[-1]:.2f} s)" if answered else "")
               + f"; one alone takes {delay:.2f} s, so one after another they would take {clients * delay:.2f} s",
               cause="the requests were answered one after another, not at the same time: " + serve_hint(kind))
    for i, r in enumerate(results):
        expect_file(t, r, site.files[target], f"client {i + 1} of {clients}")
    return tuple(peak)


def count_check(t, srv, kind, n, what=None):
    """n idle clients: the server must hold each in a thread (or process) of its own."""
    t.step(f"{n} clients connect and send nothing; the server's {kind}{'es' if kind == 'process' else 's'} are "
           f"counted in /proc")
    before_procs, before_threads, _ = counts(srv)
    socks = [open_client(t, srv.port, t.timeout(2.0)) for _ in range(n)]
    try:
        if kind == "process":  # and the parent has closed its copy (at once after the fork, but not before)
            wait_until(t, lambda: (h := wait_accepted(t, srv, socks, timeout=0)) and
                       all(srv.pid not in pids for pids in h.values()), 3.0)
        holders = wait_accepted(t, srv, socks, timeout=3.0)
        t.expect(holders is not None, message=f"the server did not accept all {n} connections",
                 expected=f"all {n} connections accepted within {t.timeout(3.0):.1f} s",
                 actual="some still waiting in the listen backlog",
                 cause="is the accept loop stuck serving one client?")
        want = (before_threads if kind == "thread" else before_procs) + n
        index = 0 if kind == "process" else 1
        seen = wait_until(t, lambda: counts(srv)[index] >= want, 3.0)
        procs, threads_now, _ = counts(srv)
        have = procs if kind == "process" else threads_now
        if not seen:
            plural = "processes" if kind == "process" else "threads"
            t.fail(f"with {n} clients connected{'' if what is None else ' and no -c'} the server has {have} {plural} "
                   f"in all; before them it had {want - n}, so at least {want} were expected",
                   cause=f"does -c {kind} start a {kind} for each connection?" if what is None else
                   f"{what}: does the server start a thread for each connection when -c is not given?")
        if kind == "process":
            main_pid = srv.pid
            served_by = [next(iter(p)) for p in holders.values()]
            in_main = sum(1 for s in holders.values() if main_pid in s)
            t.expect(in_main == 0, message="the main process keeps the accepted sockets open",
                     expected="the main process closes its copy of each accepted socket after fork",
                     actual=f"{in_main} of {n} connections still open in the main process (pid {main_pid})",
                     cause="close the connection's socket in the parent once the child has it, or the descriptors "
                           "pile up and the client never sees the end of the connection")
            t.expect(len(set(served_by)) == n, message=f"{n} connections are not in {n} different processes",
                     expected=f"{n} connections held by {n} different processes",
                     actual=f"held by {len(set(served_by))} process(es): {sorted(set(served_by))}",
                     cause="is each connection handed to a child process of its own?")
    finally:
        for s in socks:
            s.close()


def settle_check(t, srv, kind, base_procs, base_threads, base_fds):
    """Once every client has gone: threads or children ended (and reaped), descriptors back."""
    t.step("every client has closed: the server's threads, children and descriptors must go back to before")
    ok = wait_until(t, lambda: counts(srv)[2] == 0, 2.0)
    procs, threads, zombies = counts(srv)
    if not ok:
        t.fail(f"{zombies} zombie child(ren) {t.timeout(2.0):.1f} s after their clients left",
               cause="the server must wait for (reap) each child that ends while it goes on serving, not only at "
                     "the next accept or at Ctrl-C: a SIGCHLD handler calling os.waitpid(-1, os.WNOHANG) until it "
                     "returns 0 (with multiprocessing.Process: multiprocessing.active_children())")
    # One thread of slack: a runtime may start a helper thread with the first client (ThreadSanitizer's
    # background thread); a thread or a process left per client shows as several.
    ok = wait_until(t, lambda: counts(srv)[0] <= base_procs and counts(srv)[1] <= base_threads + 1, 3.0)
    procs, threads, _ = counts(srv)
    plural = "processes" if kind == "process" else "threads"
    t.expect(ok, message=f"the {plural} started for the clients did not end once they left",
             expected=f"{base_procs} process(es), {base_threads} thread(s), as before the clients came",
             actual=f"{procs} process(es), {threads} thread(s)",
             cause=f"does each {kind} end when its client's request is answered and the connection closed?")
    if base_fds is not None:
        ok = wait_until(t, lambda: len(fd_kinds(srv.pid)) <= base_fds, 2.0)
        if not ok:
            kinds = fd_kinds(srv.pid)
            sockets, pipes = kinds.count("socket"), kinds.count("pipe")
            t.fail(f"{len(kinds) - base_fds} more descriptors open in the server than before the clients came "
                   f"({len(kinds)}: {sockets} sockets, {pipes} pipes)",
                   expected=f"{base_fds} open descriptors, as before the clients came", actual=f"{len(kinds)}",
                   cause="is every accepted socket closed once its client is served, also when the client closed "
                         "without a request or the handler failed (close it in a finally), and in the parent after "
                         "the fork? A multiprocessing.Process kept in a list holds a pipe until it is joined or "
                         "closed: join the ended ones")


def fd_kinds(pid):
    """The kind of each open descriptor of pid: "socket", "pipe", "file", ..."""
    kinds = []
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return kinds
    for name in names:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        kinds.append(link.split(":", 1)[0] if link.endswith("]") and ":" in link else "file")
    return kinds


def concurrency_stage(t, kind, idle_count=1, reversed_n=4, order=None, count_n=5, overlap_n=8, seed=8):
    site = Site(t, big_size=1 << 16, seed=seed)
    srv = start(t, site, kind)
    t.repro_with(srv, f" &  nc localhost {srv.port} &  curl http://localhost:{srv.port}/index.html")
    base_procs, base_threads, _ = counts(srv)  # before any client: what the server must come back to
    base_fds = srv.fds()
    check_alive(t, srv, site, "start-up")
    idle_peer_check(t, srv, kind, idle_count)
    out_of_order_check(t, srv, kind, reversed_n, order)
    settle_check(t, srv, kind, base_procs, base_threads, base_fds)
    count_check(t, srv, kind, count_n)
    settle_check(t, srv, kind, base_procs, base_threads, base_fds)

    srv2 = start(t, site, kind, delay=True)
    t.repro_with(srv2, f" &  for i in $(seq {overlap_n}); do curl -s -o /dev/null http://localhost:{srv2.port}/img.bin "
                       f"& done; time wait")
    base2 = counts(srv2)
    delay = measure_delay(t, srv2, site)
    overlap_check(t, srv2, site, overlap_n, delay, kind=kind)
    settle_check(t, srv2, kind, base2[0], base2[1], None)

    if kind == "thread":
        srv3 = start(t, site)
        t.step("the same server started with no -c: the handout's default is thread")
        count_check(t, srv3, "thread", 3, what="with no -c (the handout's default is thread)")


def s2_threads(t):
    concurrency_stage(t, "thread")


def s3_processes(t):
    concurrency_stage(t, "process")


# ---------------------------------------------------------------------------------------------------------
# S4: Ctrl-C


def ctrl_c_check(t, kind, in_flight=3, target="/img.bin", seed=8, big_size=1 << 16):
    site = Site(t, big_size=big_size, seed=seed)
    srv = start(t, site, kind, delay=True)
    t.repro_with(srv, f"   (terminal 1), then curl http://localhost:{srv.port}{target}   (terminal 2), then "
                      f"Ctrl-C in terminal 1 while curl waits")
    check_alive(t, srv, site, "start-up")
    t.step(f"{in_flight} clients send GET {target}; once the server has read every request (seen in /proc), "
           f"Ctrl-C: SIGINT to the server's process group, as a terminal sends it")
    socks = [open_client(t, srv.port, t.timeout(2.0)) for _ in range(in_flight)]
    try:
        for s in socks:
            send(t, s, request_bytes("GET", target))
        if wait_accepted(t, srv, socks, timeout=3.0, read=True) is None:
            t.fail(f"the server did not accept and read all {in_flight} requests within {t.timeout(3.0):.1f} s",
                   cause="is the accept loop stuck serving one client?")
        os.killpg(group_of(srv), signal.SIGINT)
        for i, s in enumerate(socks):
            r = read_response(s, t.timeout(12.0))
            if r.status is None or r.error:
                t.fail(f"client {i + 1}'s request was in flight when Ctrl-C came; it got {r.describe()}",
                       cause=("does the server join every thread before it exits? Threads made daemon and never "
                              "joined die with the main thread" if kind == "thread" else
                              "a terminal's Ctrl-C goes to every process of the group: do the children ignore "
                              "SIGINT (signal.signal(signal.SIGINT, signal.SIG_IGN)) and finish their client, and "
                              "does the parent wait for them before it exits?"))
            expect_file(t, r, site.files[target], f"client {i + 1}, in flight at Ctrl-C")
    finally:
        for s in socks:
            s.close()
    t.step("the server exits 0 after Ctrl-C")
    rc = srv.wait_exit(t.timeout(10.0))
    t.expect(rc == 0, message=f"after Ctrl-C the server ended with {srv.describe_rc()}",
             expected="exit status 0 after Ctrl-C", actual=(
        f"killed by signal {-rc} ({signal.Signals(-rc).name})" if rc is not None and rc < 0 else f"exit status {rc}"),
        cause="catch KeyboardInterrupt (or handle SIGINT), stop accepting, join the threads, reap the children, and "
              "return normally; an uncaught KeyboardInterrupt exits 1 with a traceback")
    t.step("nothing of the server is left")
    left = wait_until(t, lambda: not group_tasks(group_of(srv)), 2.0)
    t.expect(left, message="processes of the server left after it exited",
             expected="no process of the server's group left after it exited",
             actual=f"{sorted(group_tasks(group_of(srv)))} still there",
             cause="does the server wait for its children before it exits?")


def s4_ctrl_c(t):
    ctrl_c_check(t, "thread")
    ctrl_c_check(t, "process")


ASSIGNMENT = Assignment(
    id="08.1", lab="08_webclient", title="the concurrent HTTP server of the lab handout",
    programs={"server": Program("./server", port="-p")},
    stages=[
        Stage("files, HEAD, 404, inside the folder", 25, s1_files),
        Stage("-c thread: a thread per client", 25, s2_threads, san=True),
        Stage("-c process: a child per client, reaped", 25, s3_processes, san=True),
        Stage("Ctrl-C: requests in flight finish", 25, s4_ctrl_c, san=True),
    ],
)
