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

    def __init__(self, size: int):
        self.size = max(0, int(size))
        self._entries: OrderedDict[int, tuple] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def take(self, case_id: int, tag: tuple):
        if not self.size:
            return None
        with self._lock:
            entry = self._entries.pop(case_id, None)
            if entry is not None and entry[0] == tag:
                self.hits += 1
                return entry[1]
            self.misses += 1
            return None

    def put(self, case_id: int, tag: tuple, value) -> None:
        if not self.size:
            return
        with self._lock:
            self._entries[case_id] = (tag, value)
            self._entries.move_to_end(case_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)  # the case least recently stepped
