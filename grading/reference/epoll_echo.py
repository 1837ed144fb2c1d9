"""grading/reference/epoll_echo.py: 07.1 in Python, the proof that its grader is black-box (MATRIX: full marks).

    python3 epoll_echo.py PORT [--mode epoll] [--quiet]

One thread, one level-triggered epoll instance, an output buffer per connection: whatever send() does not take
waits there, and the connection then waits for EPOLLOUT instead of EPOLLIN. Ctrl-C or SIGTERM: exit 0.
"""

import errno
import resource
import select
import signal
import socket
import sys


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("-") and a != "epoll"]
    port = int(args[0]) if args else 9879
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    listener.bind(("::", port))
    listener.listen(4096)
    listener.setblocking(False)
    ep = select.epoll()
    ep.register(listener.fileno(), select.EPOLLIN)
    conns, pending, wanted = {}, {}, {}  # fd -> socket, unsent bytes, registered events

    def close(fd):
        ep.unregister(fd)
        conns.pop(fd).close()
        pending.pop(fd, None)
        wanted.pop(fd, None)

    def want(fd):
        events = select.EPOLLOUT if pending.get(fd) else select.EPOLLIN
        if wanted[fd] != events:
            ep.modify(fd, events)
            wanted[fd] = events

    def flush(fd):
        data = pending[fd]
        try:
            n = conns[fd].send(data)
        except BlockingIOError:
            return True
        except OSError:
            close(fd)
            return False
        pending[fd] = data[n:]
        return True

    print(f"listening on [::]:{port}", flush=True)
    try:
        while True:
            for fd, events in ep.poll():
                if fd == listener.fileno():
                    for _ in range(64):
                        try:
                            sock, _ = listener.accept()
                        except (BlockingIOError, InterruptedError):
                            break
                        except OSError as error:
                            if error.errno in (errno.EMFILE, errno.ENFILE):
                                break
                            raise
                        sock.setblocking(False)
                        conns[sock.fileno()], wanted[sock.fileno()] = sock, select.EPOLLIN
                        ep.register(sock.fileno(), select.EPOLLIN)
                    continue
                if fd not in conns:
                    continue
                if pending.get(fd):  # input waits until the output has gone: EOF is read after it
                    if not flush(fd):
                        continue
                elif events & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                    try:
                        data = conns[fd].recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        close(fd)
                        continue
                    if not data:
                        close(fd)
                        continue
                    pending[fd] = data
                    if not flush(fd):
                        continue
                want(fd)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
