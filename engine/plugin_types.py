"""What the engine hands to plugins: a read-only picture of a case (``CaseView``, in the
``case_event`` and ``validate_task_data`` hooks) and the context a service operator's handler
runs with (``ServiceContext``).  Both are exported from ``simpul.engine``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from uuid import uuid4

from .models import Case, OutboxMessage, Row


@dataclass(frozen=True)
class CaseView:
    """A read-only picture of a case, handed to plugins."""

    id: int
    receipt: str
    process_key: str
    office_code: str
    nik: str
    resident_name: str
    status: str
    correlation_key: str
    data: dict = field(default_factory=dict)
    #: how the case ended (``engine.outcomes``), once it has: ``rejected``, ``handed_over``, ...
    outcome: str | None = None
    #: the end event's name (for a rejection, the reason why) or a cancellation's reason
    end_reason: str | None = None

    @classmethod
    def of(cls, case: Case | Row, data: dict | None = None) -> CaseView:
        return cls(
            outcome=getattr(case, "outcome", None),
            end_reason=getattr(case, "end_reason", None),
            id=case.id,
            receipt=case.receipt,
            process_key=case.process_key,
            office_code=case.office_code,
            nik=case.resident_nik,
            resident_name=case.resident_name,
            status=case.status,
            correlation_key=case.correlation_key,
            data=dict(case.data if data is None else data),
        )


class ServiceContext:
    """What a service operator's handler may use: the case, its data, settings, the outbox."""

    def __init__(self, runtime, session, case: Case | Row, task_data: dict):
        self.runtime = runtime
        self._session = session
        self.case = CaseView.of(case, task_data)
        self.data = dict(task_data)
        self.config = runtime.config

    @property
    def office_code(self) -> str:
        return self.case.office_code

    def setting(self, name, default=None):
        return self.runtime.setting(name, default)

    def send(self, destination_office: str, kind: str, payload: dict) -> str:
        """Queue a message for another office, in the same transaction as this step."""
        json.dumps(payload)  # refuse non-JSON payloads here, not in the worker
        message = OutboxMessage(
            message_id=str(uuid4()),
            case_id=self.case.id,
            source_office=self.case.office_code,
            destination_office=destination_office,
            kind=kind,
            payload=payload,
        )
        self._session.add(message)
        return message.message_id
