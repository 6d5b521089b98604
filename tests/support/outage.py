"""A TCP forwarder in front of a real server that can be made to fail.

`Outage(target_port)` listens on a free loopback port and copies each
connection to the target. `cut()` resets every open connection and every
new one (the server "went away": connection reset, as a crashed or
restarted S3 looks to a client); `restore()` forwards again, on the same
port, as a server coming back does. Used as a context manager it always
stops its threads and sockets.
"""

import socket
import threading


class Outage:
    def __init__(self, target_port, target_host="127.0.0.1"):
        self.target = (target_host, target_port)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open = []
        self._down = False
        self._stopping = False
        self.refused = 0
        # Bytes clients sent through to the server (uploads, mostly), and
        # bytes the server answered with (what clients read).
        self.sent = 0
        self.received = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def cut(self):
        """Resets every open connection and each new one until restore()."""
        with self._lock:
            self._down = True
            open_now, self._open = self._open, []
        for sock in open_now:
            _reset(sock)

    def restore(self):
        with self._lock:
            self._down = False

    def stop(self):
        self._stopping = True
        self.cut()
        try:
            self._listener.close()
        except OSError:
            pass
        self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def _accept(self):
        self._listener.settimeout(0.2)
        while not self._stopping:
            try:
                client, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                down = self._down
            if down:
                self.refused += 1
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._open += [client, upstream]
            for source, sink, count in ((client, upstream, self._count_sent), (upstream, client, self._count_received)):
                threading.Thread(target=_pipe, args=(source, sink, count), daemon=True).start()

    def _count_sent(self, n):
        with self._lock:
            self.sent += n

    def _count_received(self, n):
        with self._lock:
            self.received += n


def _pipe(source, sink, count=None):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            if count is not None:
                count(len(data))
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _reset(sock):
    """Closes with RST (SO_LINGER 0), as a vanished server's host answers."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
    except OSError:
        pass
