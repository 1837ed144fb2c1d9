"""Assignment 04.2: descriptor passing in the preforked pool (04_prefork/README.md#assignment-2).

What the README fixes, and so all the stages rely on: `server PORT NCHILDREN --mode pass` runs a pool of
NCHILDREN preforked children; the parent alone accepts, and hands each connected descriptor to an idle child
over a Unix-domain socket pair (SCM_RIGHTS); the child serves the byte-count protocol of lab 04 (the client
writes a count from 1 to 1048576 and a newline, the server writes exactly that many bytes; the client may ask
again or close). A child that dies is replaced. The grader reads no output: only the protocol and /proc (the
server's processes and their descriptors, and /proc/net/tcp{,6} to find the server's end of a connection).

S1 the load client's bytes, exact for every connection: 24 connections, 6 at a time, two requests each.
S2 the parent accepts and a child serves: 3 connections opened one after the other and left open, each
   answered once; the server's end of each (its socket inode, by /proc/net/tcp) is open in a child of the
   server and no longer in the parent, and the three are in three different children.
S3 a child killed while serving does not lose the pool: the child holding an open connection gets SIGKILL;
   the pool is back to NCHILDREN children, no zombie, and the next 8 connections are all served.
"""

import os
import signal
import time

from grading.assignments.a04_1_accept_lock import load, read_exact
from grading.harness import Assignment, Program, Stage, _all_processes, proc_net_sockets, socket_inodes


def start_pool(t, children=4):
    t.step(f"start the pool: {children} children, --mode pass")
    srv = t.start("server", [str(children), "--mode", "pass"], port=True)
    t.repro_with(srv, "   # then e.g. ./client localhost PORT 4 20 4000")
    return srv


def children_of(srv):
    """The live (non-zombie) children of the server's main process, from /proc."""
    return sorted(pid for pid, (state, ppid, _) in _all_processes().items() if ppid == srv.pid and state != "Z")


def server_end_inode(conn):
    """The inode of the server's end of the grader's connection conn, from /proc/net/tcp and tcp6 (or None)."""
    client_port = conn.sock.getsockname()[1]
    server_port = conn.sock.getpeername()[1]
    return next((inode for local_port, remote_port, _, inode in proc_net_sockets(("tcp", "tcp6"))
                 if local_port == server_port and remote_port == client_port and inode != "0"), None)


def holders(srv, inode):
    """(in the parent?, the children holding inode)."""
    return inode in socket_inodes([srv.pid]), [pid for pid in children_of(srv) if inode in socket_inodes([pid])]


def open_served(t, srv, count=1000):
    """A connection whose first request is answered (so some worker has it), left open; its server-end inode."""
    conn = t.connect(srv.port, timeout=5.0)
    conn.send(f"{count}\n".encode())
    read_exact(t, conn, count, f"the reply to {count}", timeout=5.0)
    inode = server_end_inode(conn)
    if inode is None:
        t.fail("the server's end of the connection is not in /proc/net/tcp or tcp6",
               cause="the grader's connection should be an established TCP connection to the server")
    return conn, inode


def s1_bytes(t, children=4, connections=24, at_once=6):
    srv = start_pool(t, children)
    load(t, srv.port, connections, at_once, "--mode pass")
    t.expect(srv.running(), expected="the server still running", actual=srv.describe_rc())
    srv.signal(signal.SIGTERM)
    srv.wait_exit(10.0, what="the server to stop after SIGTERM")


def s2_child_serves(t, children=4, connections=3):
    srv = start_pool(t, children)
    t.wait_until(lambda: len(children_of(srv)) == children, 5.0, what=f"{children} children of the server")
    servers = set()
    opened = []
    for i in range(connections):
        t.step(f"open connection {i + 1} of {connections}, answered once and left open")
        conn, inode = open_served(t, srv)
        opened.append(conn)
        time.sleep(t.timeout(0.1))
        t.step(f"connection {i + 1}: who holds the server's end (socket:[{inode}]) in /proc/PID/fd")
        in_parent, in_children = holders(srv, inode)
        t.expect(in_children, expected=f"socket:[{inode}] open in a child of the server (pid {srv.pid})",
                 actual="in the parent only" if in_parent else "in no child",
                 cause="does the parent pass the accepted descriptor to a child (sendmsg with SCM_RIGHTS), "
                       "instead of serving the connection itself?")
        t.expect(not in_parent, expected=f"socket:[{inode}] closed in the parent once passed",
                 actual=f"still open in the parent (pid {srv.pid}) too",
                 cause="the parent keeps its copy of every passed connection: close it after sendmsg (the "
                       "child has its own), or the parent runs out of descriptors and clients never see EOF")
        servers.update(in_children)
    t.expect(len(servers) == connections, expected=f"{connections} connections open at once in "
                                                   f"{connections} different children",
             actual=f"in {len(servers)} children", cause="does the parent give a connection only to an idle "
                                                         "child, and mark it busy until it says it is free?")
    for conn in opened:
        conn.close()
    srv.signal(signal.SIGTERM)
    srv.wait_exit(10.0, what="the server to stop after SIGTERM")


def s3_killed_child(t, children=4, kills=1, connections=8):
    srv = start_pool(t, children)
    t.wait_until(lambda: len(children_of(srv)) == children, 5.0, what=f"{children} children of the server")
    for k in range(kills):
        t.step("open a connection, answered once and left open: find the child that serves it")
        conn, inode = open_served(t, srv)
        _, in_children = holders(srv, inode)
        t.expect(in_children, expected=f"socket:[{inode}] open in a child of the server", actual="in no child",
                 cause="does the parent pass the accepted descriptor to a child?")
        pid = in_children[0]
        t.step(f"kill -9 {pid}, the child serving that connection")
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError as e:
            t.fail(f"could not kill the child {pid}: {e}")
        conn.close()
        t.step(f"the pool is back to {children} children, the dead one reaped (no zombie)")
        t.wait_until(lambda: pid not in children_of(srv) and len(children_of(srv)) == children
                     and srv.zombies() == 0, 5.0, what=f"{children} live children again and no zombie",
                     cause="does the parent reap a dead child (SIGCHLD, waitpid) and fork another in its slot, "
                           "with a new socket pair, and stop passing descriptors to the dead one?")
        load(t, srv.port, connections, 2, "--mode pass, after a serving child was killed")
    t.expect(srv.running(), expected="the server still running", actual=srv.describe_rc())
    srv.signal(signal.SIGTERM)
    srv.wait_exit(10.0, what="the server to stop after SIGTERM")


ASSIGNMENT = Assignment(
    id="04.2", lab="04_prefork", title="descriptor passing: the parent accepts and hands each connection to an "
                                       "idle child",
    programs={"server": Program("./server", port="positional")},
    stages=[Stage("the load client's bytes, exact for every connection (--mode pass)", 10, s1_bytes, timeout=90),
            Stage("the parent accepts, a child serves (the connection's socket in a child's fds)", 10,
                  s2_child_serves, timeout=60),
            Stage("a child killed while serving does not lose the pool", 10, s3_killed_child, timeout=60)],
)
