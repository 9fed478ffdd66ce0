"""The node's secret, and keys derived from it for one purpose each.

The web app signs its sessions with the node secret; a plugin that needs a keyed code (the
resident's lookup code on a receipt, for instance) asks for a key derived for its own purpose
with ``derived_key``, so no two uses share a key and the session key never leaves the web
layer.  The CLI, the worker and the web app all read the same secret: ``Config.secret_key``
(``SIMPUL_SECRET_KEY``) when set, else ``<instance>/secret_key``, created once (mode 0600).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path


def node_secret(config) -> str:
    """``config.secret_key``, else the instance's ``secret_key`` file (created on first use)."""
    if config.secret_key:
        return config.secret_key
    path = Path(config.instance_path) / "secret_key"
    if path.is_file():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of this node created it first: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def derived_key(config, purpose: str) -> bytes:
    """A 32-byte key for one named purpose (HMAC-SHA256 of the purpose under the node secret)."""
    return hmac.new(node_secret(config).encode(), f"simpul:{purpose}".encode(), hashlib.sha256).digest()
