"""grading/harness.py: the library every assignment of grading/assignments/ is written with (stdlib only).

An assignment module defines ASSIGNMENT, an Assignment made of Stages; each stage is a function given a Trial,
which starts the programs (the kit's, or SERVER=/CLIENT= commands in any language), talks to them only through
their command line, their standard streams and their protocol, and states what it expects. The harness bounds
every wait, records numbered steps, and after every stage checks /proc: no zombie children while a program
runs, no process of its group left once it is stopped, and no sanitizer report in the output of a sanitized
build. grading/grade.py runs the stages and prints the scores.

    ASSIGNMENT = Assignment(id="01.1", lab="01_mtserver", title="...",
                            programs={"server": Program("./stopflag")},
                            stages=[Stage("the prompt and the answers", 10, s1_prompt), ...])

The Trial t given to a stage function (every time in seconds is scaled: TIMEOUT_SCALE, x3 on a sanitized build):
    t.step(text)                       a numbered step, printed when the stage fails
    t.start(name, args, port=True|N, udp=False, stdin=False, env=None, ready_timeout=5) -> Proc
                                       own process group; cwd the lab folder (SERVER=/CLIENT=: the caller's);
                                       port=True: a free port, given as Program.port says, waited for in
                                       /proc/net/{tcp,tcp6,udp,udp6} (bound by a process of the group)
    t.run(name, args, stdin=b"", timeout=5, port=None, env=None) -> Result(rc, out, err, out_bytes)
    t.connect(port, host="127.0.0.1", timeout=2) -> Conn: send, recv(timeout), recv_until(delim, timeout),
                                       recv_all(timeout), close;   t.udp(port) -> Udp: send, recv(timeout)|None
    t.expect(cond, expected=, actual=, cause=, message=), t.expect_eq(actual, expected, what=, cause=),
    t.fail(message, cause=), t.wait_until(predicate, timeout, what, cause=), t.timeout(seconds),
    t.repro(command), t.repro_with(proc, tail=""), t.scratch(name), t.log(line), t.overridden(name),
    t.variant ("tsan"/"asan" or None), t.lab_dir, t.settings
A Proc: write(bytes), close_stdin(), wait_output(regex, timeout, what=, since=) -> match, mark(), output,
    signal(sig), wait_exit(timeout, what=) -> status, rc, running(), describe_rc(), threads(), processes(),
    zombies(), fds(), sanitizer_report(), port, pid, display (the command line as typed).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
import traceback
from typing import Callable, Optional

# ---------------------------------------------------------------------------------------------------------------
# What an assignment module declares


@dataclasses.dataclass
class Program:
    """A program of the lab, by its path relative to the lab folder (e.g. "./server").

    port: how it is given its port: "-p" (adds `-p PORT`), "positional" (PORT first) or None (no port)."""

    path: str
    port: Optional[str] = None

    def __post_init__(self):
        if self.port not in (None, "-p", "positional") and not str(self.port).startswith("-"):
            raise ValueError(f"Program port must be '-p', 'positional' or None, not {self.port!r}")


@dataclasses.dataclass
class Stage:
    """One graded stage: title, points, and the function that runs it (given a Trial).

    san=True: under `make grade SAN=...` the stage runs the sanitized build (otherwise the normal build).
    needs_san="thread"|"address": the stage always runs that sanitizer's build of the kit's programs; with a
    SERVER=/CLIENT= program it is not applicable (full points, said so).
    timeout: the bound of the whole stage, in seconds (times TIMEOUT_SCALE, x3 under a sanitizer).
    needs: the stages it runs after, e.g. ("S1",); None (the default) means every stage before it, () none:
    the independent parts of an extra credit, each scored alone."""

    title: str
    points: int
    fn: Callable[["Trial"], None]
    san: bool = False
    needs_san: Optional[str] = None
    timeout: float = 60.0
    needs: Optional[tuple] = None

    def __post_init__(self):
        if self.needs_san not in (None, "thread", "address"):
            raise ValueError(f"needs_san must be None, 'thread' or 'address', not {self.needs_san!r}")


@dataclasses.dataclass
class Assignment:
    id: str
    lab: str
    title: str
    programs: dict
    stages: list
    readme: Optional[str] = None  # default: <lab>/README.md#assignment-<n>

    def __post_init__(self):
        if self.readme is None:
            self.readme = f"{self.lab}/README.md#assignment-{self.id.split('.')[-1]}"


class Fail(Exception):
    """A failed expectation: the stage scores 0. message says what went wrong, cause the likely reason."""

    def __init__(self, message, cause=None, expected=None, actual=None):
        super().__init__(message)
        self.message = message
        self.cause = cause
        self.expected = expected
        self.actual = actual


class StageTimeout(Fail):
    pass


# ---------------------------------------------------------------------------------------------------------------
# Settings of one grading run (grade.py fills them in)

SAN_VARIANTS = {"thread": "tsan", "address": "asan"}


@dataclasses.dataclass
class Settings:
    root: str  # the kit (or handout) whose programs are graded
    cwd: str = dataclasses.field(default_factory=os.getcwd)  # where SERVER=/CLIENT= commands run
    san: Optional[str] = None  # SAN= of the run: san=True stages use that build
    timeout_scale: float = 1.0
    overrides: dict = dataclasses.field(default_factory=dict)  # {"server": "python3 x.py", "client": ...}
    verbose: bool = False
    build: bool = True  # build the sanitizer variants a stage needs (make -C ROOT LAB SAN=...)
    out: Optional[str] = None  # where logs and scratch folders go (default ROOT/build/grade)


def escape(value, limit=400) -> str:
    """Bytes or text as one line: printable ASCII as is, everything else escaped (\\n, \\r, \\t, \\xNN)."""
    if value is None:
        return "(nothing)"
    if isinstance(value, (bytes, bytearray)):
        data = bytes(value)
        out = []
        for b in data[:limit]:
            c = chr(b)
            if c == "\\":
                out.append("\\\\")
            elif c == "\n":
                out.append("\\n")
            elif c == "\r":
                out.append("\\r")
            elif c == "\t":
                out.append("\\t")
            elif 32 <= b < 127:
                out.append(c)
            else:
                out.append(f"\\x{b:02x}")
        text = '"' + "".join(out) + '"'
        if len(data) > limit:
            text += f" ... ({len(data)} bytes in all)"
        return text
    if isinstance(value, str):
        shown = value[:limit]
        out = []
        for c in shown:
            if c == "\\":
                out.append("\\\\")
            elif c == "\n":
                out.append("\\n")
            elif c == "\r":
                out.append("\\r")
            elif c == "\t":
                out.append("\\t")
            elif c.isprintable():
                out.append(c)
            else:
                out.append(f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}")
        text = '"' + "".join(out) + '"'
        if len(value) > limit:
            text += f" ... ({len(value)} characters in all)"
        return text
    return str(value)


# ---------------------------------------------------------------------------------------------------------------
# /proc


def _proc_stat(pid):
    """(state, ppid, pgrp) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode(errors="replace")
    except OSError:
        return None
    rest = data[data.rfind(")") + 2:].split()
    try:
        return rest[0], int(rest[1]), int(rest[2])
    except (IndexError, ValueError):
        return None


def _all_processes():
    """{pid: (state, ppid, pgrp)} of every process visible now."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = _proc_stat(int(name))
            if stat:
                table[int(name)] = stat
    return table


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return " ".join(part.decode(errors="replace") for part in f.read().split(b"\0") if part)
    except OSError:
        return "?"


def group_members(pgid, include_zombies=False):
    return sorted(pid for pid, (state, _, pgrp) in _all_processes().items()
                  if pgrp == pgid and (include_zombies or state != "Z"))


def thread_count(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def socket_inodes(pids):
    inodes = set()
    for pid in pids:
        try:
            names = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for name in names:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{name}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    return inodes


def proc_net_sockets(tables):
    """(local port, remote port, state, inode) of every socket in /proc/net/<table> for the tables given
    (tcp, tcp6, udp, udp6); state is the kernel's hex code (0A: TCP_LISTEN)."""
    for table in tables:
        try:
            with open(f"/proc/net/{table}") as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            try:
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            except (IndexError, ValueError):
                continue
            yield local_port, remote_port, fields[3], fields[9]


def bound_inodes(port, udp=False):
    """Inodes of the sockets bound to port: TCP in LISTEN state, or UDP (any state), IPv4 and IPv6."""
    # 0A: TCP_LISTEN; a bound UDP socket is in the table in state 07 (CLOSE)
    return {inode for local_port, _, state, inode in proc_net_sockets(("udp", "udp6") if udp else ("tcp", "tcp6"))
            if local_port == port and (udp or state == "0A")}


def free_port(udp=False):
    """A port free now for TCP (or UDP) on both IPv4 and IPv6 wildcards, as far as one can tell."""
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET6, kind) as s6:
                s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s6.bind(("::", port))
        except OSError:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM if not udp else socket.SOCK_STREAM) as other:
                other.bind(("", port))  # free for the other protocol too: servers of 03 may use both
        except OSError:
            continue
        return port
    raise Fail("could not find a free port")


def sanitizer_report(text, lines=14):
    """The first lines of the first sanitizer report (TSan, ASan, LSan, UBSan) in text, or None."""
    m = re.search(r"^.*(WARNING: ThreadSanitizer|ERROR: AddressSanitizer|ERROR: LeakSanitizer|"
                  r"runtime error:|SUMMARY: UndefinedBehaviorSanitizer).*$", text, re.M)
    if not m:
        return None
    return "\n".join(text[m.start():].splitlines()[:lines])


# Every process group started and not yet stopped, so that Ctrl-C of the grader stops them all.
_live_groups: set = set()
_live_lock = threading.Lock()


def kill_everything():
    """Kills every process group the harness started and has not stopped (Ctrl-C, exit of the grader)."""
    with _live_lock:
        groups = list(_live_groups)
        _live_groups.clear()
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------------------------
# Running programs


class Proc:
    """A program started by Trial.start: its output is collected, its group and threads seen from /proc."""

    def __init__(self, trial, name, argv, cwd, display, stdin, env, port, sanitized):
        self.trial = trial
        self.name = name
        self.argv = argv
        self.display = display  # the command as the student would type it (for the repro line)
        self.port = port
        self.sanitized = sanitized
        self._chunks = []
        self._text = ""
        self._cond = threading.Condition()
        self._cursor = 0
        self._eof = False
        self.stopped_by_grader = False
        self.exited_by_itself = None
        self.popen = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
        self.pid = self.popen.pid
        self.pgid = self.pid
        with _live_lock:
            _live_groups.add(self.pgid)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        fd = self.popen.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            with self._cond:
                if not data:
                    self._eof = True
                    self._cond.notify_all()
                    return
                self._chunks.append(data)
                self._text += data.decode(errors="replace")
                if len(self._text) > 4_000_000:  # a program printing without end: keep the tail
                    dropped = len(self._text) - 2_000_000
                    self._text = self._text[dropped:]
                    self._cursor = max(0, self._cursor - dropped)
                self._cond.notify_all()

    @property
    def output(self) -> str:
        """Everything printed so far (stdout and stderr, as text)."""
        with self._cond:
            return self._text

    @property
    def rc(self):
        return self.popen.poll()

    def running(self):
        return self.popen.poll() is None

    def write(self, data):
        if isinstance(data, str):
            data = data.encode()
        if self.popen.stdin is None:
            raise Fail(f"{self.display}: its standard input is not a pipe (start it with stdin=True)")
        try:
            self.popen.stdin.write(data)
            self.popen.stdin.flush()
        except (BrokenPipeError, OSError):
            raise Fail(f"{self.display} no longer reads its standard input (it exited with "
                       f"{self.describe_rc()})" if not self.running() else
                       f"{self.display} closed its standard input")
        self.trial.log(f"[{self.name} stdin] {escape(data)}")

    def close_stdin(self):
        if self.popen.stdin is not None and not self.popen.stdin.closed:
            try:
                self.popen.stdin.close()
            except OSError:
                pass
            self.trial.log(f"[{self.name} stdin] end of input")

    def wait_output(self, pattern, timeout, what=None, since=None):
        """Waits until the output (from the end of the last match, or from `since`) matches the regex
        pattern. Returns the match. Fail when the time runs out or the program exits first."""
        what = what or f"output matching {pattern!r}"
        regex = re.compile(pattern)
        limit = self.trial.timeout(timeout)
        deadline = time.monotonic() + limit
        with self._cond:
            start = self._cursor if since is None else since
            while True:
                m = regex.search(self._text, start)
                if m:
                    self._cursor = m.end()
                    return m
                if self._eof and self.popen.poll() is not None:
                    raise Fail(f"{self.display} exited ({self.describe_rc()}) before printing {what}",
                               expected=f"{what} (regex /{pattern}/)", actual=self._text[start:][-600:])
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Fail(f"timed out after {limit:.1f} s waiting for {what}",
                               expected=f"{what} (regex /{pattern}/)", actual=self._text[start:][-600:])
                self._cond.wait(min(left, 0.1))

    def mark(self):
        """The current end of the output: pass as since= to look only at what comes after."""
        with self._cond:
            return len(self._text)

    def signal(self, sig):
        try:
            os.kill(self.pid, sig)
        except OSError:
            pass
        self.trial.log(f"[{self.name}] sent {signal.Signals(sig).name}")

    def wait_exit(self, timeout, what=None):
        """Waits until the program exits; returns its exit status (negative: killed by that signal).
        Fail "timed out after N s" when it does not."""
        limit = self.trial.timeout(timeout)
        try:
            rc = self.popen.wait(limit)
        except subprocess.TimeoutExpired:
            raise Fail(f"timed out after {limit:.1f} s waiting for {what or self.display + ' to exit'}",
                       expected=f"{self.display} exits", actual="still running")
        self.exited_by_itself = True
        self._reader.join(1.0)
        self.trial.log(f"[{self.name}] exited: {self.describe_rc()}")
        return rc

    def describe_rc(self):
        rc = self.popen.poll()
        if rc is None:
            return "still running"
        if rc < 0:
            try:
                return f"killed by {signal.Signals(-rc).name}"
            except ValueError:
                return f"killed by signal {-rc}"
        return f"exit status {rc}"

    def threads(self):
        """Threads of the program's main process, from /proc."""
        return thread_count(self.pid)

    def processes(self):
        """Processes of the program's group (itself and its children), zombies not counted."""
        return len(group_members(self.pgid))

    def zombie_pids(self):
        members = set(group_members(self.pgid, include_zombies=True)) | {self.pid}
        return sorted(pid for pid, (state, ppid, _) in _all_processes().items() if state == "Z" and ppid in members)

    def zombies(self):
        """Zombie children of the program's processes, from /proc."""
        return len(self.zombie_pids())

    def fds(self):
        """Open descriptors of the program's main process, from /proc."""
        return fd_count(self.pid)

    def sanitizer_report(self):
        """The first lines of a sanitizer report in the output, or None."""
        return sanitizer_report(self.output)

    def stop(self):
        """SIGTERM to the group, SIGKILL after 2 s; reports processes of the group left after the program
        itself exited."""
        problems = []
        if self.popen.stdin is not None and not self.popen.stdin.closed:
            try:
                self.popen.stdin.close()
            except OSError:
                pass
        if self.popen.poll() is None:
            self.stopped_by_grader = True
            try:
                os.killpg(self.pgid, signal.SIGTERM)
            except OSError:
                pass
            try:
                self.popen.wait(2.0)
            except subprocess.TimeoutExpired:
                self.trial.log(f"[{self.name}] still running 2 s after SIGTERM: SIGKILL")
                try:
                    os.killpg(self.pgid, signal.SIGKILL)
                except OSError:
                    pass
                try:
                    self.popen.wait(5.0)
                except subprocess.TimeoutExpired:
                    pass
        # What is left of the group once the program itself has exited (given a moment to go).
        deadline = time.monotonic() + 2.0
        left = group_members(self.pgid)
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = group_members(self.pgid)
        if left:
            listing = ", ".join(f"{pid} ({_cmdline(pid)[:60]})" for pid in left[:5])
            problems.append(Fail(f"{len(left)} process(es) of {self.display}'s group still running after it "
                                 f"exited: {listing}",
                                 cause="are child processes stopped and waited for before the program exits?"))
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except OSError:
                pass
            end = time.monotonic() + 2.0
            while group_members(self.pgid) and time.monotonic() < end:
                time.sleep(0.05)
        with _live_lock:
            _live_groups.discard(self.pgid)
        self._reader.join(2.0)
        return problems


@dataclasses.dataclass
class Result:
    """What Trial.run returns: rc (exit status), out (stdout), err (stderr), output (both)."""

    rc: int
    out: str
    err: str
    out_bytes: bytes = b""

    @property
    def output(self):
        return self.out + self.err


class Conn:
    """A TCP connection from the grader (Trial.connect)."""

    def __init__(self, trial, port, host, timeout):
        self.trial = trial
        self.port = port
        limit = trial.timeout(timeout)
        try:
            self.sock = socket.create_connection((host, port), timeout=limit)
        except OSError as e:
            raise Fail(f"could not connect to {host} port {port}: {e}",
                       cause="is the server listening on the port given on its command line?")
        self.received = b""
        trial.log(f"[grader] connected to {host}:{port}")

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Fail(f"sending to port {self.port} failed: {e}")
        self.trial.log(f"[grader -> {self.port}] {escape(data)}")

    def _recv_some(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout
        self.sock.settimeout(left)
        return self.sock.recv(65536)

    def recv_until(self, delim, timeout, what=None):
        """Bytes up to and including delim. Fail on time-out or end of stream before it."""
        if isinstance(delim, str):
            delim = delim.encode()
        limit = self.trial.timeout(timeout)
        deadline = time.monotonic() + limit
        while delim not in self.received:
            try:
                data = self._recv_some(deadline)
            except socket.timeout:
                raise Fail(f"timed out after {limit:.1f} s waiting for {what or escape(delim)}",
                           expected=what or escape(delim), actual=self.received)
            except OSError as e:
                raise Fail(f"receiving failed: {e}", actual=self.received)
            if not data:
                raise Fail(f"the connection was closed before {what or escape(delim)}", expected=delim,
                           actual=self.received)
            self.received += data
        i = self.received.index(delim) + len(delim)
        out, self.received = self.received[:i], self.received[i:]
        self.trial.log(f"[{self.port} -> grader] {escape(out)}")
        return out

    def recv(self, timeout):
        """Whatever arrives next (b"" at end of stream); Fail on time-out."""
        if self.received:
            out, self.received = self.received, b""
            return out
        limit = self.trial.timeout(timeout)
        try:
            out = self._recv_some(time.monotonic() + limit)
        except socket.timeout:
            raise Fail(f"timed out after {limit:.1f} s waiting for data", actual=b"")
        except OSError as e:
            raise Fail(f"receiving failed: {e}")
        self.trial.log(f"[{self.port} -> grader] {escape(out)}")
        return out

    def recv_all(self, timeout):
        """Everything until the peer closes. Fail on time-out."""
        limit = self.trial.timeout(timeout)
        deadline = time.monotonic() + limit
        while True:
            try:
                data = self._recv_some(deadline)
            except socket.timeout:
                raise Fail(f"timed out after {limit:.1f} s waiting for the end of the reply (the connection "
                           f"stayed open)", actual=self.received)
            except ConnectionResetError:
                data = b""
            if not data:
                break
            self.received += data
        out, self.received = self.received, b""
        self.trial.log(f"[{self.port} -> grader, then closed] {escape(out)}")
        return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Udp:
    """A UDP socket of the grader talking to one port (Trial.udp)."""

    def __init__(self, trial, port, host):
        self.trial = trial
        self.port = port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.addr = (host, port)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendto(data, self.addr)
        self.trial.log(f"[grader -> udp {self.port}] {escape(data)}")

    def recv(self, timeout):
        """The next datagram, or None after the time-out."""
        self.sock.settimeout(self.trial.timeout(timeout))
        try:
            data, _ = self.sock.recvfrom(65536)
        except socket.timeout:
            self.trial.log(f"[udp {self.port} -> grader] nothing")
            return None
        self.trial.log(f"[udp {self.port} -> grader] {escape(data)}")
        return data

    def close(self):
        self.sock.close()


# ---------------------------------------------------------------------------------------------------------------
# A Trial: one run of one stage


class Trial:
    def __init__(self, settings: Settings, assignment: Assignment, stage: Stage, variant: Optional[str]):
        self.settings = settings
        self.assignment = assignment
        self.stage = stage
        self.variant = variant  # None: the normal build; "tsan"/"asan": that sanitizer's build
        self.steps = []
        self.log_lines = []
        self.procs = []
        self.conns = []
        self.outputs = []  # (name, display, whole output) of every program run, for the log
        self._repro = None
        self._scratch = None
        self.lab_dir = os.path.join(settings.root, assignment.lab)

    # --- record
    def log(self, line):
        self.log_lines.append(f"{time.strftime('%H:%M:%S')} {line}")
        if self.settings.verbose:
            print("      " + line, flush=True)

    def step(self, text):
        self.steps.append(text)
        self.log(f"step {len(self.steps)}: {text}")

    def repro(self, command):
        """The command line that reproduces the failure by hand (shown when the stage fails)."""
        self._repro = command

    def repro_with(self, proc, tail=""):
        """The repro line from a started program's own command (cd to its folder first when needed), plus
        tail, e.g. "   # then answer y, then n"."""
        self._repro = _cd_prefix(proc.cwd, self.settings.cwd) + proc.display + tail

    def timeout(self, seconds):
        scale = self.settings.timeout_scale * (3.0 if self.variant else 1.0)
        return seconds * scale

    def scratch(self, name=""):
        """A fresh folder for this stage (scratch/ of the run's output folder, build/grade/ by default), or a path
        inside it: two runs with their own --out never share one."""
        if self._scratch is None:
            out = self.settings.out or os.path.join(self.settings.root, "build", "grade")
            base = os.path.join(out, "scratch", f"{self.assignment.id}.{self.stage_name}")
            if os.path.isdir(base):
                import shutil
                shutil.rmtree(base, ignore_errors=True)
            os.makedirs(base, exist_ok=True)
            self._scratch = base
        return os.path.join(self._scratch, name) if name else self._scratch

    stage_name = "S0"

    # --- expectations
    def fail(self, message, cause=None, expected=None, actual=None):
        raise Fail(message, cause=cause, expected=expected, actual=actual)

    def expect(self, cond, expected=None, actual=None, cause=None, message=None):
        if not cond:
            raise Fail(message or (f"expected {expected}" if expected is not None else "expectation failed"),
                       cause=cause, expected=expected, actual=actual)

    def expect_eq(self, actual, expected, what="the result", cause=None):
        if actual != expected:
            raise Fail(f"{what} is not as expected", cause=cause, expected=expected, actual=actual)

    def wait_until(self, predicate, timeout, what, cause=None):
        """Polls predicate() (every 20 ms) until it is true; Fail with what when the time runs out."""
        limit = self.timeout(timeout)
        deadline = time.monotonic() + limit
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise Fail(f"timed out after {limit:.1f} s waiting for {what}", cause=cause)
            time.sleep(0.02)

    # --- programs
    def overridden(self, name):
        return name in self.settings.overrides

    def command(self, name, args=(), port=None):
        """(argv, cwd, display) of program `name` with args, its port added as its CLI says."""
        program = self.assignment.programs.get(name)
        if program is None:
            raise Fail(f"the assignment has no program named {name!r}")
        args = [str(a) for a in args]
        port_args = []
        if port is not None and program.port:
            port_args = [str(port)] if program.port == "positional" else [program.port, str(port)]
        if program.port == "positional":
            args = port_args + args
        else:
            args = args + port_args
        if name in self.settings.overrides:
            base = shlex.split(self.settings.overrides[name])
            if not base:
                raise Fail(f"{name.upper()}= is empty")
            cwd = self.settings.cwd
            display = " ".join(shlex.quote(a) for a in base + args)
            return base + args, cwd, display
        path = program.path
        if self.variant:
            path = os.path.join(self.settings.root, "build", self.variant, self.assignment.lab,
                                os.path.basename(program.path))
            display_path = os.path.relpath(path, self.lab_dir)
        else:
            path = os.path.normpath(os.path.join(self.lab_dir, program.path))
            display_path = program.path
        if not os.path.isfile(path) or not os.access(path, os.X_OK):
            san = f" SAN={ {'tsan': 'thread', 'asan': 'address'}[self.variant]}" if self.variant else ""
            shown = os.path.relpath(path, self.settings.cwd)
            raise Fail(f"{path if shown.startswith('..') else shown} does not exist",
                       cause=f"build it first: make {self.assignment.lab}{san}")
        display = " ".join(shlex.quote(a) for a in [display_path] + args)
        return [path] + args, self.lab_dir, f"{display}"

    def _env(self, env):
        full = dict(os.environ)
        full.setdefault("TSAN_OPTIONS", "second_deadlock_stack=1")
        full.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:halt_on_error=1")
        full.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        full["PYTHONUNBUFFERED"] = "1"  # a Python program's prompt shows without a flush
        if env:
            full.update(env)
        return full

    def start(self, name, args=(), port=False, udp=False, stdin=False, env=None, ready_timeout=5.0):
        """Starts program `name` in its own process group (cwd: the lab folder; SERVER=/CLIENT=: the caller's
        folder). port=True picks a free port, passes it as the CLI says and waits (bounded) until the program
        has bound it (TCP listening, or UDP with udp=True), from /proc/net; port=N uses port N."""
        chosen = None
        if port is True:
            chosen = free_port(udp)
        elif port:
            chosen = int(port)
        argv, cwd, display = self.command(name, args, chosen)
        self.log(f"[grader] start {name}: {display}  (in {cwd})")
        proc = Proc(self, name, argv, cwd, display, stdin, self._env(env), chosen,
                    sanitized=bool(self.variant) and not self.overridden(name))
        proc.cwd = cwd
        self.procs.append(proc)
        if chosen is not None:
            self._wait_bound(proc, chosen, udp, ready_timeout)
        return proc

    def _wait_bound(self, proc, port, udp, ready_timeout):
        limit = self.timeout(ready_timeout)
        deadline = time.monotonic() + limit
        kind = "UDP" if udp else "TCP"
        while True:
            bound = bound_inodes(port, udp)
            if bound and bound & socket_inodes(group_members(proc.pgid)):
                self.log(f"[grader] {proc.name} has bound {kind} port {port}")
                return
            if proc.popen.poll() is not None:
                raise Fail(f"{proc.display} exited ({proc.describe_rc()}) without "
                           f"{'binding' if udp else 'listening on'} {kind} port {port}",
                           cause="does the program take its port from its command line?")
            if time.monotonic() >= deadline:
                raise Fail(f"timed out after {limit:.1f} s waiting for {proc.display} to "
                           f"{'bind' if udp else 'listen on'} {kind} port {port}",
                           cause="does the program take its port from its command line, and listen on it?")
            time.sleep(0.02)

    def run(self, name, args=(), stdin=b"", timeout=5.0, port=None, env=None):
        """Runs program `name` to its end (bounded); returns a Result (rc, out, err)."""
        argv, cwd, display = self.command(name, args, port)
        if isinstance(stdin, str):
            stdin = stdin.encode()
        self.log(f"[grader] run {name}: {display}  (in {cwd})")
        limit = self.timeout(timeout)
        popen = subprocess.Popen(argv, cwd=cwd, env=self._env(env), stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        with _live_lock:
            _live_groups.add(popen.pid)
        try:
            out, err = popen.communicate(stdin, timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(popen.pid, signal.SIGKILL)
            out, err = popen.communicate()
            self._record_output(name, display, (out + err).decode(errors="replace"))
            raise Fail(f"timed out after {limit:.1f} s waiting for {display} to finish",
                       actual=(out + err)[-600:])
        finally:
            left = group_members(popen.pid)
            if left:
                try:
                    os.killpg(popen.pid, signal.SIGKILL)
                except OSError:
                    pass
            with _live_lock:
                _live_groups.discard(popen.pid)
        text_out, text_err = out.decode(errors="replace"), err.decode(errors="replace")
        self._record_output(name, display, text_out + text_err)
        self.log(f"[{name}] exited: status {popen.returncode}")
        if left:
            raise Fail(f"{len(left)} process(es) of {display} still running after it exited",
                       cause="are child processes stopped and waited for before the program exits?")
        if self.variant and not self.overridden(name):
            report = sanitizer_report(text_out + text_err)
            if report:
                raise Fail(f"the sanitizer reported a problem in {display}:\n{report}")
        return Result(popen.returncode, text_out, text_err, out)

    def _record_output(self, name, display, text):
        self.outputs.append((name, display, text))

    def connect(self, port, host="127.0.0.1", timeout=2.0):
        conn = Conn(self, port, host, timeout)
        self.conns.append(conn)
        return conn

    def udp(self, port, host="127.0.0.1"):
        u = Udp(self, port, host)
        self.conns.append(u)
        return u

    # --- the gates and the clean-up, after the stage
    def finish(self):
        """Closes the grader's sockets, checks the gates, stops every program. Returns the gate failures."""
        problems = []
        for conn in self.conns:
            conn.close()
        for proc in self.procs:
            if proc.running():
                zombies = proc.zombie_pids()
                deadline = time.monotonic() + 1.0
                while zombies and time.monotonic() < deadline and proc.running():
                    time.sleep(0.05)
                    zombies = proc.zombie_pids()
                if zombies and proc.running():
                    problems.append(Fail(f"{len(zombies)} zombie child process(es) of {proc.display}: "
                                         f"{', '.join(map(str, zombies[:8]))}",
                                         cause="are finished child processes reaped (waitpid, SIGCHLD)?"))
            problems.extend(proc.stop())
            self._record_output(proc.name, proc.display, proc.output)
            if proc.sanitized:
                report = proc.sanitizer_report()
                if report:
                    problems.append(Fail(f"the sanitizer reported a problem in {proc.display}:\n{report}"))
        return problems


# ---------------------------------------------------------------------------------------------------------------
# Running one stage


@dataclasses.dataclass
class StageResult:
    name: str  # S1, H2
    title: str
    points: int
    score: int
    status: str  # "ok", "fail", "not run", "n/a"
    seconds: float = 0.0
    detail: str = ""  # the explanation printed under a failed stage
    log_path: Optional[str] = None
    note: str = ""  # "not run (needs S2)", "not applicable: ..."


def stage_variant(settings, stage):
    """The build a stage runs: a sanitizer's ("tsan"/"asan") or None (the normal one)."""
    if stage.needs_san:
        return SAN_VARIANTS[stage.needs_san]
    if stage.san and settings.san:
        return SAN_VARIANTS[settings.san]
    return None


def _build_variant(settings, assignment, variant, trial):
    """make -C ROOT LAB SAN=... (bounded): the sanitized build a stage runs."""
    san = {"tsan": "thread", "asan": "address"}[variant]
    cmd = ["make", "--no-print-directory", "-C", settings.root, assignment.lab, f"SAN={san}",
           f"-j{min(2, os.cpu_count() or 1)}"]
    trial.step(f"build the {'ThreadSanitizer' if variant == 'tsan' else 'AddressSanitizer'} variant: "
               f"make {assignment.lab} SAN={san}")
    limit = 900 * settings.timeout_scale
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    with _live_lock:
        _live_groups.add(p.pid)  # Ctrl-C of the grader stops the build too
    try:
        out, _ = p.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        trial._record_output("make", " ".join(cmd), out.decode(errors="replace"))
        raise Fail(f"timed out after {limit:.0f} s building: make {assignment.lab} SAN={san}")
    finally:
        with _live_lock:
            _live_groups.discard(p.pid)
    trial._record_output("make", " ".join(cmd), out.decode(errors="replace"))
    if p.returncode != 0:
        raise Fail(f"the build failed: make {assignment.lab} SAN={san} (exit status {p.returncode})",
                   cause="does the lab compile with -Wall -Wextra -Werror (see the log)?")


class _Alarm(BaseException):
    pass


def _on_alarm(signum, frame):
    raise _Alarm()


def _cd_prefix(folder, cwd):
    """"cd FOLDER && " (relative to cwd when inside it), or "" when folder is cwd."""
    where = os.path.relpath(folder, cwd)
    if where == ".":
        return ""
    return f"cd {shlex.quote(folder if where.startswith('..') else where)} && "


def _tail(text, lines=12):
    rows = text.rstrip("\n").splitlines()
    return rows[-lines:]


def run_stage(settings, assignment, stage, name, log_path):
    """Runs one stage: the function, then the gates. Writes the whole log to log_path. Returns StageResult."""
    variant = stage_variant(settings, stage)
    trial = Trial(settings, assignment, stage, variant)
    trial.stage_name = name
    failure = None
    gate = False
    start = time.monotonic()
    bound = stage.timeout * settings.timeout_scale * (3.0 if variant else 1.0)
    trial.log(f"stage {name} {stage.title} of {assignment.id} (bound {bound:.0f} s"
              f"{', build ' + variant if variant else ''}; root {settings.root})")
    use_alarm = threading.current_thread() is threading.main_thread()
    old = None
    try:
        if variant and settings.build and any(p.path and not trial.overridden(n)
                                              for n, p in assignment.programs.items()):
            _build_variant(settings, assignment, variant, trial)
            start = time.monotonic()  # the stage's time is its own, not the build's
        if use_alarm:
            old = signal.signal(signal.SIGALRM, _on_alarm)
            signal.setitimer(signal.ITIMER_REAL, bound)
        try:
            stage.fn(trial)
        finally:
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
    except _Alarm:
        failure = Fail(f"the stage timed out after {bound:.0f} s (its bound)",
                       cause="does a program hang, or wait for input it never gets?")
    except Fail as f:
        failure = f
    except KeyboardInterrupt:
        trial.finish()
        raise
    except Exception:  # a bug of the stage itself: say so, do not blame the program
        failure = Fail("the grader's stage raised an exception (a bug of the grader, not of your program):\n"
                       + traceback.format_exc(limit=6))
    finally:
        if old is not None:
            signal.signal(signal.SIGALRM, old)
    problems = trial.finish()
    if failure is None and problems:
        failure = problems[0]
        gate = True
        problems = problems[1:]
    seconds = time.monotonic() - start

    # The log: steps, the failure, then each program's whole output.
    detail_lines = []
    if failure is not None:
        if trial.steps:
            for i, text in enumerate(trial.steps, 1):
                detail_lines.append(f"{i}. {text}")
        where = "after the stage (the checks of /proc)" if gate else (
            f"at step {len(trial.steps)}" if trial.steps else "")
        msg_lines = failure.message.splitlines() or [""]
        detail_lines.append(f"FAILED {where}: {msg_lines[0]}".replace("FAILED : ", "FAILED: "))
        detail_lines.extend("  " + line for line in msg_lines[1:])
        if failure.expected is not None or failure.actual is not None:
            expected = failure.expected if isinstance(failure.expected, str) else escape(failure.expected)
            detail_lines.append(f"  expected: {expected}")
            detail_lines.append(f"  actual:   {escape(failure.actual)}")
        for extra in problems:
            if "Sanitizer" in extra.message and "Sanitizer" in failure.message:
                continue  # the stage has shown that report already
            detail_lines.append(f"also: {extra.message.splitlines()[0]}")
        cause = failure.cause
        stub = next((m for _, _, text in trial.outputs
                     for m in [re.search(r"not implemented: assignment \S+.*", text)] if m), None)
        if stub and not gate:
            cause = f"the program says it is still the handout's stub ({stub.group(0).strip()})"
        if cause:
            detail_lines.append(f"likely cause: {cause}")
        repro = trial._repro
        if repro is None and trial.procs:
            proc = trial.procs[-1]
            repro = _cd_prefix(proc.cwd, settings.cwd) + proc.display
        if repro:
            detail_lines.append(f"reproduce by hand: {repro}")
        for pname, display, text in trial.outputs:
            if text.strip() and pname != "make":
                detail_lines.append(f"last lines of the output of {display}:")
                detail_lines.extend("  | " + row for row in _tail(text))
            elif pname == "make" and failure.message.startswith("the build failed"):
                detail_lines.append("last lines of the build:")
                detail_lines.extend("  | " + row for row in _tail(text))
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    with open(log_path, "w") as f:
        f.write(f"{assignment.id} {name} {stage.title}\n")
        f.write("\n".join(trial.log_lines) + "\n")
        if failure is not None:
            f.write("\n" + "\n".join(detail_lines) + "\n")
        else:
            f.write(f"\nOK {stage.points}/{stage.points} in {seconds:.1f} s\n")
        for pname, display, text in trial.outputs:
            f.write(f"\n----- the whole output of {display}\n{text}")
            if text and not text.endswith("\n"):
                f.write("\n")
    if failure is None:
        return StageResult(name, stage.title, stage.points, stage.points, "ok", seconds, "", log_path)
    return StageResult(name, stage.title, stage.points, 0, "fail", seconds, "\n".join(detail_lines), log_path)
