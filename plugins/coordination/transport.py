"""Moving outbox messages to their destination office.

When the destination office is served by this same node (one database, as in the embedded
demo where the kecamatan and the regency share a PC), the message is applied directly.
"""
from __future__ import annotations

from engine import NotFound, receive_message
from engine.models import Office


def deliver(runtime, message: dict):
    with runtime.read() as s:
        local = s.get(Office, message["destination_office"]) is not None
    if not local:
        return None  # not ours to deliver
    try:
        receive_message(runtime, {**message})
    except NotFound:
        # Nobody waits for it (e.g. the case was cancelled meanwhile): nothing to retry.
        return True
    return True
