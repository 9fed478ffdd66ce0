"""The coordination settings of one node: its peers and the delivery knobs.

Read on every use from the runtime's configuration, so a test (or an administrator's
reload) that changes them is seen at once:

* ``SIMPUL_SETTINGS`` → ``{"coordination": {...}}`` (``engine.Config.settings``), keys below;
* ``SIMPUL_PEERS`` → ``{"6402": {"url": "https://...", "secret": "..."}}``, merged under
  ``coordination.peers`` (a peer in the settings wins).

Both are declared through the ``plugin_settings`` hook (``DECLARATION``) and read with
``runtime.plugin_settings("coordination")``; the plugin never reads the environment itself.

``setting()`` in BPMN expressions only hands out scalar values, so the peers' secrets in this
nested dict are never visible to scripts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

DEFAULTS = {
    #: a message waiting longer than this raises the alert on the status page (ISO 8601 or seconds).
    "alert_after": "PT6H",
    #: a signed request older or newer than this (seconds) is refused as a replay.
    "max_clock_skew": 900,
    #: at most this many messages, and about this many bytes of JSON, in one request.
    "batch_size": 100,
    "batch_bytes": 512 * 1024,
    #: seconds to open a connection, and to wait for the answer to one batch.
    "connect_timeout": 10.0,
    "read_timeout": 40.0,
    #: link-level backoff: first wait (default: the node's job_backoff_seconds) and ceiling, seconds.
    "retry_base_seconds": None,
    "retry_max_seconds": 300.0,
    #: offices served by this node besides its own (a regency PC that also hosts a kecamatan).
    "local_offices": [],
    #: a sent (acknowledged) message is kept this long, then pruned (its id is kept).
    "sent_retention": "P30D",
    #: the largest request body the inbox accepts, compressed and inflated.
    "max_request_bytes": 8 * 1024 * 1024,
    "max_inflated_bytes": 64 * 1024 * 1024,
}


NAMESPACE = "coordination"
DECLARATION = {"namespace": NAMESPACE, "defaults": {**DEFAULTS, "peers": {}}, "environment": {"peers": "SIMPUL_PEERS"}}


@dataclass(frozen=True)
class Peer:
    office_code: str
    url: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class CoordinationSettings:
    office_code: str
    peers: dict
    alert_after: timedelta
    sent_retention: timedelta
    max_clock_skew: float
    batch_size: int
    batch_bytes: int
    connect_timeout: float
    read_timeout: float
    retry_base_seconds: float
    retry_max_seconds: float
    local_offices: frozenset
    max_request_bytes: int
    max_inflated_bytes: int

    @property
    def served_offices(self) -> frozenset:
        """Offices whose messages this node applies itself."""
        return frozenset({self.office_code, *self.local_offices})

    def peer(self, office_code: str) -> Peer | None:
        return self.peers.get(office_code)


def parse_duration(value, default: timedelta) -> timedelta:
    """``"PT6H"``, ``"P1D"`` or a number of seconds."""
    if value is None or value == "":
        return default
    if isinstance(value, (int, float)):
        return timedelta(seconds=float(value))
    try:
        return timedelta(seconds=float(value))
    except (TypeError, ValueError):
        pass
    parsed = TimerEventDefinition.parse_iso_duration(str(value))
    days = (
        parsed.get("days", 0) + 7 * parsed.get("weeks", 0) + 30 * parsed.get("months", 0) + 365 * parsed.get("years", 0)
    )
    return timedelta(
        days=days, hours=parsed.get("hours", 0), minutes=parsed.get("minutes", 0), seconds=parsed.get("seconds", 0)
    )


def _peers_from(raw) -> dict:
    peers = {}
    for code, item in (raw or {}).items():
        if not isinstance(item, dict) or not item.get("url") or not item.get("secret"):
            raise ValueError(f"peer {code}: needs a url and a secret")
        peers[str(code)] = Peer(str(code), str(item["url"]).rstrip("/"), str(item["secret"]))
    return peers


def settings_for(runtime) -> CoordinationSettings:
    config = runtime.config
    raw = runtime.plugin_settings(NAMESPACE)
    peers = _peers_from(raw["peers"])
    peers.pop(config.office_code, None)
    base = raw["retry_base_seconds"]
    return CoordinationSettings(
        office_code=config.office_code,
        peers=peers,
        alert_after=parse_duration(raw["alert_after"], timedelta(hours=6)),
        sent_retention=parse_duration(raw["sent_retention"], timedelta(days=30)),
        max_clock_skew=float(raw["max_clock_skew"]),
        batch_size=max(1, int(raw["batch_size"])),
        batch_bytes=max(1024, int(raw["batch_bytes"])),
        connect_timeout=float(raw["connect_timeout"]),
        read_timeout=float(raw["read_timeout"]),
        retry_base_seconds=float(base if base is not None else config.job_backoff_seconds),
        retry_max_seconds=float(raw["retry_max_seconds"]),
        local_offices=frozenset(str(o) for o in raw["local_offices"] or ()),
        max_request_bytes=int(raw["max_request_bytes"]),
        max_inflated_bytes=int(raw["max_inflated_bytes"]),
    )
