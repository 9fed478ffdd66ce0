"""A TCP proxy on a loopback port that plays a bad link between two office nodes.

``mode`` (may change at any time):

``pass``           forward both ways;
``down``           accept and close at once, as a dead link or a stopped node;
``blackhole``      accept, swallow what is sent, never answer (a hung link);
``drop_response``  forward the request, then cut the connection instead of passing the
                   answer back: the receiver applied it, the sender never hears (lost ack).

``rate_bps`` and ``rtt`` throttle it like a weak uplink: each direction is a pipe of that
many bits per second shared by all connections, with half the round trip as one-way delay
(a new connection also waits one round trip, the TCP handshake).
"""

from __future__ import annotations

import queue
import socket
import threading
import time


class Proxy:
    def __init__(
        self,
        upstream_port: int,
        *,
        upstream_host: str = "127.0.0.1",
        rate_bps: float | None = None,
        rtt: float = 0.0,
        mode: str = "pass",
    ):
        self.upstream = (upstream_host, upstream_port)
        self.rate_bps = rate_bps
        self.rtt = rtt
        self.mode = mode
        self.bytes_up = 0  # client -> upstream
        self.bytes_down = 0  # upstream -> client
        self.connections = 0
        self._lock = threading.Lock()
        self._free_at = {"up": 0.0, "down": 0.0}
        self._sockets: set[socket.socket] = set()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True, name=f"proxy-{self.port}").start()

    # -- control -----------------------------------------------------------------------------

    def set_mode(self, mode: str) -> None:
        """Switch mode; any mode but ``pass`` also cuts the connections open now."""
        self.mode = mode
        if mode != "pass":
            self.cut()

    def cut(self) -> None:
        with self._lock:
            sockets, self._sockets = list(self._sockets), set()
        for s in sockets:
            _close(s)

    def retarget(self, upstream_port: int) -> None:
        self.upstream = (self.upstream[0], upstream_port)

    def close(self) -> None:
        self._closed = True
        _close(self._listener)
        self.cut()

    # -- plumbing ----------------------------------------------------------------------------

    def _track(self, s):
        with self._lock:
            self._sockets.add(s)

    def _accept_loop(self):
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client):
        self._track(client)
        mode = self.mode
        if mode == "down":
            _close(client)
            return
        if mode == "blackhole":
            try:
                while client.recv(65536):
                    pass
            except OSError:
                pass
            _close(client)
            return
        if self.rtt:
            time.sleep(self.rtt)
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
            upstream.settimeout(None)
        except OSError:
            _close(client)
            return
        self._track(upstream)
        threading.Thread(target=self._pipe, args=(client, upstream, "up"), daemon=True).start()
        threading.Thread(target=self._pipe, args=(upstream, client, "down"), daemon=True).start()

    def _schedule(self, direction: str, size: int) -> float:
        now = time.monotonic()
        with self._lock:
            start = max(now, self._free_at[direction])
            transmit = size * 8 / self.rate_bps if self.rate_bps else 0.0
            self._free_at[direction] = start + transmit
            return start + transmit + self.rtt / 2

    def _pipe(self, src, dst, direction):
        outgoing: queue.Queue = queue.Queue()

        def writer():
            while True:
                arrival, chunk = outgoing.get()
                delay = arrival - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                if chunk is None:
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    return
                if direction == "down" and self.mode == "drop_response":
                    _close(src)
                    _close(dst)
                    return
                try:
                    dst.sendall(chunk)
                except OSError:
                    _close(src)
                    return

        threading.Thread(target=writer, daemon=True).start()
        last = 0.0
        while True:
            try:
                chunk = src.recv(16384)
            except OSError:
                chunk = b""
            if not chunk:
                outgoing.put((last, None))
                return
            if direction == "up":
                self.bytes_up += len(chunk)
            else:
                self.bytes_down += len(chunk)
            last = self._schedule(direction, len(chunk))
            outgoing.put((last, chunk))


def _close(s):
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass
