"""Settings for one Simpul node, read from the environment (``SIMPUL_*``) or given directly.

One object, passed to the runtime, the CLI and the web factory, so no module reads
``os.environ`` on its own and tests can build as many nodes as they like.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

DEFAULT_LANE_ROLES = {
    "operator": "operator",
    "verifier": "verifier",
    "supervisor": "supervisor",
    "regency_officer": "regency_officer",
}


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class Config:
    """Every setting a node needs; README's configuration table documents each one."""

    instance_path: Path = field(default_factory=lambda: Path(os.getcwd()) / "instance")
    database_url: str = ""
    office_code: str = "640205"
    office_name: str = "Kecamatan Sangasanga"
    office_kind: str = "kecamatan"
    regency_code: str = "6402"
    timezone: str = "Asia/Makassar"
    #: ``name`` adds a plugin module by import path, ``-name`` blocks a plugin by name.
    plugins: str = ""
    #: lane name in BPMN -> role key; unknown lanes are refused at deploy.
    lane_roles: dict = field(default_factory=lambda: dict(DEFAULT_LANE_ROLES))
    script_time_limit: float = 2.0
    #: sandbox worker processes running scripts and conditions under OS limits (0: in-process).
    sandbox_workers: int = 2
    #: at most this many case workflows kept in memory between steps (0 turns the cache off) ...
    workflow_cache_size: int = 100_000
    #: ... and at most this much memory for them (MB, estimated from their states' sizes).
    workflow_cache_mb: float = 256.0
    job_max_attempts: int = 5
    job_backoff_seconds: float = 10.0
    worker_poll_seconds: float = 5.0
    #: free-form settings that BPMN expressions read with ``setting(name, default)``.
    settings: dict = field(default_factory=dict)
    secret_key: str = ""
    locale: str = "id"
    #: the ``SIMPUL_*`` variables from_env saw, for the environment variables plugins declare
    #: for their settings (``plugin_settings`` hook); never set from a variable itself.
    environment: dict = field(default_factory=dict, repr=False)
    #: a signed-in browser left alone this many minutes is signed out (0: only the 12 h limit).
    session_idle_minutes: int = 30
    #: served behind a TLS-terminating proxy: Secure cookies, HSTS, X-Forwarded-* trusted (one hop).
    behind_tls_proxy: bool = False
    #: folder (a USB disk) the worker writes a backup of the database to; empty: no scheduled backup.
    backup_dir: str = ""
    #: hours between the worker's backups (0: only ``simpul backup`` by hand).
    backup_every_hours: float = 24.0
    #: backups kept in ``backup_dir``; older ones are deleted after each new one.
    backup_keep: int = 7

    def __post_init__(self):
        self.instance_path = Path(self.instance_path)
        if not self.database_url:
            self.database_url = f"sqlite:///{self.instance_path / 'simpul.db'}"

    @classmethod
    def from_env(cls, environ=None, **overrides) -> Config:
        """Build a Config from ``SIMPUL_<FIELD>`` variables; explicit overrides win."""
        environ = os.environ if environ is None else environ
        values: dict = {"environment": {k: v for k, v in environ.items() if k.startswith("SIMPUL_")}}
        for f in fields(cls):
            if f.name == "environment":
                continue
            raw = environ.get(f"SIMPUL_{f.name.upper()}")
            if raw is None:
                continue
            if f.type in ("dict",):
                values[f.name] = json.loads(raw)
            elif f.type == "int":
                values[f.name] = int(raw)
            elif f.type == "float":
                values[f.name] = float(raw)
            elif f.type == "bool":
                values[f.name] = _bool(raw)
            else:
                values[f.name] = raw
        values.update(overrides)
        return cls(**values)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
