"""The runtime's cache of case workflows kept hot between steps (engine-internal)."""

from __future__ import annotations

import threading
from collections import OrderedDict


class WorkflowCache:
    """Workflows kept in memory after the step that saved them, so the next step of the same
    case skips deserialising (like Temporal's sticky workflow cache).

    An entry is the exact object whose state was just committed, tagged with the case's
    ``lock_version`` after that commit (see ``_cache_tag``).  Every write of a workflow state
    bumps the version, so after a step done by another process or thread the tag no longer
    matches and the state is read from the database.  ``take`` removes the entry, so one
    workflow object is never used by two steps at once, and it is put back only after the
    step's transaction has committed: a step that fails leaves nothing half-changed here."""

    #: memory a deserialised workflow takes per byte of its serialised state (measured by
    #: bench/engine.py: ~3x on the bundled processes); used to keep the cache within budget.
    MEMORY_PER_STATE_BYTE = 3.0

    def __init__(self, size: int, max_bytes: int = 256 * 2**20):
        self.size = max(0, int(size))
        self.max_bytes = max(0, int(max_bytes))
        self.bytes = 0
        self._entries: OrderedDict[int, tuple] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def take(self, case_id: int, tag: tuple):
        if not self.size:
            return None
        with self._lock:
            entry = self._entries.pop(case_id, None)
            if entry is not None:
                self.bytes -= entry[2]
            if entry is not None and entry[0] == tag:
                self.hits += 1
                return entry[1]
            self.misses += 1
            return None

    def put(self, case_id: int, tag: tuple, value, state_bytes: int = 0) -> None:
        """Keep ``value`` for the case's next step; the least recently stepped cases go first
        when the count or the memory budget (``state_bytes`` x MEMORY_PER_STATE_BYTE) is full."""
        if not self.size:
            return
        cost = int(state_bytes * self.MEMORY_PER_STATE_BYTE)
        with self._lock:
            old = self._entries.pop(case_id, None)
            if old is not None:
                self.bytes -= old[2]
            self._entries[case_id] = (tag, value, cost)
            self.bytes += cost
            while self._entries and (len(self._entries) > self.size or self.bytes > self.max_bytes):
                _gone, (_t, _v, gone_cost) = self._entries.popitem(last=False)  # least recently stepped
                self.bytes -= gone_cost

    def __len__(self) -> int:
        return len(self._entries)
