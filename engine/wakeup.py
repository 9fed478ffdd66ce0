"""Waking the worker when a step makes work due, instead of waiting for its next poll.

A transaction that writes a job or an outbox message marks itself (the statements are seen
on the engine's cursor, so the Core inserts of the step path need no change); once it has
committed:

* in the same process (the embedded worker of ``simpul run``) an event wakes the worker;
* on PostgreSQL ``NOTIFY simpul_work`` is sent inside the transaction, so it is delivered
  exactly when the work becomes visible, and a worker in any other process or machine
  ``LISTEN``s for it on its own connection (:class:`Listener`).

The worker's poll stays, as a fallback only (a lost connection, a timer coming due later):
it sleeps until the earliest pending job or message is due, at most ``worker_poll_seconds``.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import event

log = logging.getLogger("simpul.worker")

CHANNEL = "simpul_work"
_WORK_TABLES = ("INSERT INTO jobs", "INSERT INTO outbox_messages", "UPDATE jobs", "UPDATE outbox_messages")


class Wakeup:
    """One per runtime: marks transactions that wrote due work and wakes the worker."""

    def __init__(self, engine):
        self.event = threading.Event()
        #: set while the worker sleeps between passes (tests and benchmarks wait for it).
        self.idle = threading.Event()
        self._local = threading.local()
        self.dialect = engine.dialect.name
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany):
        if getattr(self._local, "depth", 0) and statement.lstrip().startswith(_WORK_TABLES):
            self._local.work = True

    def begin(self) -> bool:
        """A transaction starts in this thread; True when it is the outermost."""
        depth = getattr(self._local, "depth", 0)
        if not depth:
            self._local.work = False
        self._local.depth = depth + 1
        return not depth

    def end(self, outer: bool) -> bool:
        """Whether the outermost transaction that is ending wrote a job or an outbox message."""
        self._local.depth = max(0, getattr(self._local, "depth", 1) - 1)
        if not outer:
            return False
        work, self._local.work = getattr(self._local, "work", False), False
        return work

    def notify_local(self) -> None:
        self.event.set()

    def pass_begins(self) -> None:
        """The worker starts a pass, which sees all work committed so far: the wake-ups until
        now are answered by it (among them those of its own previous pass's commits, which
        would otherwise wake it at once for a pass that finds nothing)."""
        self.event.clear()

    def wait(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Sleep until woken, ``stop`` is set or ``timeout`` seconds; True when woken."""
        deadline = time.monotonic() + timeout
        self.idle.set()
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or (stop is not None and stop.is_set()):
                    return False
                if self.event.wait(min(left, 0.25)):
                    self.event.clear()
                    return True
        finally:
            self.idle.clear()


class Listener(threading.Thread):
    """``LISTEN simpul_work`` on a dedicated PostgreSQL connection; each notification (from
    any process) wakes this process's worker.  Reconnects after a lost connection."""

    def __init__(self, url: str, wakeup: Wakeup, stop: threading.Event):
        super().__init__(daemon=True, name="worker-listen")
        self.url, self.wakeup, self.stop = url, wakeup, stop
        self.ready = threading.Event()

    def run(self) -> None:
        import psycopg

        dsn = self.url.replace("postgresql+psycopg://", "postgresql://", 1)
        while not self.stop.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.ready.set()
                    self.wakeup.notify_local()  # anything sent while we were not listening
                    while not self.stop.is_set():
                        for _note in conn.notifies(timeout=1.0):
                            self.wakeup.notify_local()
            except Exception as exc:  # the poll covers the gap; try again shortly
                if not self.stop.is_set():
                    log.warning("worker LISTEN connection lost: %s", exc)
                    self.stop.wait(1.0)
