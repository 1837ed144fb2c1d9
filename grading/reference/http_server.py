#!/usr/bin/env python3
"""The lab handout's concurrent HTTP server, minimal and correct: the reference the grader is proven with.

Usage: http_server.py [-h] [-p PORT] [-v] [-d] [-f FOLDER] [-c {thread,process}]

GET and HEAD of the files under FOLDER (never outside it), one request per connection (the response says
`Connection: close`), 404 for what is not there. `-c thread` starts a thread per connection, `-c process`
forks a child per connection. Ctrl-C (SIGINT, also SIGTERM) stops accepting, lets every accepted
connection finish its request, joins every thread or reaps every child, and exits 0. Finished children are
reaped as they end (SIGCHLD wakes the accept loop), so none is ever left a zombie.

Written for grading/: `make grade LAB=08_webclient SERVER="python3 grading/reference/http_server.py"` must
score full marks on 08.1. Standard library only (sockets, threading, os.fork), no http.server.
"""
import argparse
import os
import select
import signal
import socket
import sys
import threading
import time
import urllib.parse

DELAY_SECONDS = 1.0  # what -d adds before each response
IDLE_TIMEOUT = 10.0  # a client that does not complete its request in this time is closed
MAX_HEAD = 16384
TYPES = {".html": "text/html", ".htm": "text/html", ".txt": "text/plain", ".png": "image/png",
         ".jpg": "image/jpeg", ".css": "text/css", ".js": "application/javascript"}
REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           408: "Request Timeout", 505: "HTTP Version Not Supported"}


def parse_args():
    parser = argparse.ArgumentParser(prog="http_server.py")
    parser.add_argument("-p", "--port", type=int, default=8085, help="Port to bind to")
    parser.add_argument("-v", "--verbose", action="store_true", help="Turn on debugging output.")
    parser.add_argument("-d", "--delay", action="store_true", help="Add a delay for debugging purposes.")
    parser.add_argument("-f", "--folder", default=".", help="Folder from where to serve from.")
    parser.add_argument("-c", "--concurrency", choices=["thread", "process"], default="thread",
                        help="Concurrency methodology.")
    return parser.parse_args()


def log(args, conn, text):
    if args.verbose:
        print(f"[socket {conn.fileno()}, pid {os.getpid()}, {threading.current_thread().name}] {text}",
              flush=True)


def read_head(conn):
    """The request head (up to the blank line), or None if the client closed or sent too much."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD:
            return None
        chunk = conn.recv(4096)
        if not chunk:
            return None
        data += chunk
    return data.split(b"\r\n\r\n", 1)[0]


def resolve(folder, target):
    """(status, path): the file a target names below folder, or the error status."""
    path = target.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/"):
        return 400, None
    try:
        decoded = urllib.parse.unquote(path, errors="strict")
    except UnicodeDecodeError:
        return 400, None
    if "\0" in decoded:
        return 400, None
    parts = [p for p in decoded.split("/") if p not in ("", ".")]
    if ".." in parts:
        return 403, None
    full = os.path.join(folder, *parts)
    root = os.path.realpath(folder)
    real = os.path.realpath(full)
    if real != root and not real.startswith(root + os.sep):
        return 403, None  # a symbolic link that leads out
    if os.path.isdir(real):
        real = os.path.join(real, "index.html")
    if not os.path.isfile(real):
        return 404, None
    return 200, real


def send_status(conn, status, head_only=False):
    body = f"{status} {REASONS[status]}\n".encode()
    conn.sendall(f"HTTP/1.1 {status} {REASONS[status]}\r\nContent-Type: text/plain\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                 + (b"" if head_only else body))


def handle(conn, args):
    """Answers the one request of a connection, then closes it."""
    try:
        conn.settimeout(IDLE_TIMEOUT)
        try:
            head = read_head(conn)
        except socket.timeout:
            send_status(conn, 408)
            return
        if head is None:
            return
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        log(args, conn, f"received {request_line!r}")
        words = request_line.split()
        if len(words) != 3:
            send_status(conn, 400)
            return
        method, target, version = words
        if not version.startswith("HTTP/1."):
            send_status(conn, 505)
            return
        if method not in ("GET", "HEAD"):
            send_status(conn, 405)
            return
        if args.delay:
            time.sleep(DELAY_SECONDS)
        status, path = resolve(args.folder, target)
        head_only = method == "HEAD"
        if status != 200:
            send_status(conn, status, head_only)
            log(args, conn, f"{method} {target} -> {status}")
            return
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            kind = TYPES.get(os.path.splitext(path)[1].lower(), "application/octet-stream")
            conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {size}\r\n"
                         f"Connection: close\r\n\r\n".encode())
            if not head_only:
                conn.sendfile(f)
        log(args, conn, f"{method} {target} -> 200 ({size} bytes)")
    except OSError as e:  # the client went away: costs its own connection only
        log(args, conn, f"error: {e}")
    finally:
        conn.close()


class Server:
    """The accept loop and the two ways of serving a connection. grading/known_bad/ derives its broken
    servers from this class, each overriding one method."""

    def __init__(self, args):
        self.args = args
        self.threads = []
        self.children = set()

    def run(self):
        args = self.args
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("", args.port))
        self.listener.listen(128)
        print(f"listening on 0.0.0.0:{self.listener.getsockname()[1]}, serving {args.folder} "
              f"(concurrency: {args.concurrency})", flush=True)

        # Signals only write their number to wakeup (the handlers do nothing else), so the accept loop sees
        # Ctrl-C and ended children in one select, with no race between checking a flag and blocking.
        self.wakeup_r, self.wakeup_w = socket.socketpair()
        self.wakeup_w.setblocking(False)
        signal.set_wakeup_fd(self.wakeup_w.fileno())
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
            signal.signal(sig, lambda signum, frame: None)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)

        stop = False
        while not stop:
            ready, _, _ = select.select([self.listener, self.wakeup_r], [], [])
            if self.wakeup_r in ready:
                for signum in self.wakeup_r.recv(64):
                    stop = stop or signum in (signal.SIGINT, signal.SIGTERM)
                self.reap(block=False)
            if stop or self.listener not in ready:
                continue
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            if args.concurrency == "thread":
                self.start_thread(conn)
            else:
                self.start_process(conn)
        self.listener.close()
        self.shut_down()

    def start_thread(self, conn):
        self.threads = [t for t in self.threads if t.is_alive()]  # ended ones need no join to free them
        worker = threading.Thread(target=handle, args=(conn, self.args))
        worker.start()
        self.threads.append(worker)

    def start_process(self, conn):
        pid = os.fork()
        if pid == 0:  # the child: only its connection; Ctrl-C is the parent's to handle
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            for sig in (signal.SIGTERM, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            for s in (self.listener, self.wakeup_r, self.wakeup_w):
                s.close()
            handle(conn, self.args)
            os._exit(0)
        self.children.add(pid)
        conn.close()

    def reap(self, block):
        """Waits for the children that ended (for all of them if block)."""
        for pid in list(self.children):
            try:
                waited, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
            except ChildProcessError:
                waited = pid
            if waited:
                self.children.discard(pid)

    def shut_down(self):
        print(f"stopping: waiting for {sum(t.is_alive() for t in self.threads)} threads, "
              f"{len(self.children)} children", flush=True)
        for t in self.threads:
            t.join()
        self.reap(block=True)
        print("stopped: every thread joined, every child reaped", flush=True)


def main(server_class=None):
    args = parse_args()
    if not os.path.isdir(args.folder):
        print(f"http_server.py: no folder {args.folder}", file=sys.stderr)
        return 1
    (server_class or Server)(args).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
