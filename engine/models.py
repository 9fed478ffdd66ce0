"""The tables.  Only what a running office needs is stored: no row per engine task per step
(spiff-arena's O(n^2) growth), the workflow spec once per process version, the open user
tasks the inbox shows, and an append-only event log for the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from .db import Base


def utcnow() -> datetime:
    """Now, as an aware UTC datetime (what every stored timestamp is)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both SQLite (which forgets the zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Office(Base):
    __tablename__ = "offices"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # kelurahan | kecamatan | regency
    parent_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Makassar")


class User(Base):
    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    office_code: Mapped[str] = mapped_column(ForeignKey("offices.code"))
    roles: Mapped[list] = mapped_column(JSON, default=list)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ProcessVersion(Base):
    __tablename__ = "process_versions"
    __table_args__ = (
        UniqueConstraint("process_key", "version"),
        UniqueConstraint("process_key", "content_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    bpmn_xml: Mapped[str] = mapped_column(Text, deferred=True)
    #: form key -> form-js schema, frozen with the version so running cases keep their forms.
    forms: Mapped[dict] = mapped_column(JSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    #: the parsed spec, serialised once per version (never per case).
    spec_json: Mapped[str] = mapped_column(Text, deferred=True)
    source: Mapped[str] = mapped_column(String(200), default="")
    deployed_by: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReceiptSerial(Base):
    """The last serial handed out per office and year (row-locked when taken)."""

    __tablename__ = "receipt_serials"

    office_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_office_status", "office_code", "status"),
        Index("ix_cases_office_outcome", "office_code", "outcome", "ended_at"),
        Index("ix_cases_office_created", "office_code", "created_at"),
        # the office's recently finished cases of a procedure, newest first (engine.step_timings).
        Index("ix_cases_office_process_ended", "office_code", "process_key", "status", "ended_at"),
        # every case list of an office, newest first, with keyset paging (engine/search.py)
        Index("ix_cases_office_id", "office_code", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    receipt: Mapped[str] = mapped_column(String(40), unique=True)
    office_code: Mapped[str] = mapped_column(ForeignKey("offices.code"))
    process_key: Mapped[str] = mapped_column(String(100))
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))
    resident_nik: Mapped[str] = mapped_column(String(16), index=True)
    resident_name: Mapped[str] = mapped_column(String(200))
    #: active | incident | completed | cancelled
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    #: messages from other offices find the case by this key (the receipt that started it).
    correlation_key: Mapped[str] = mapped_column(String(60), index=True)
    #: the case's task data after its last step, for display without loading the workflow.
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    incident: Mapped[str | None] = mapped_column(Text, nullable=True)
    end_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: how the case ended, for counting (engine.outcomes): handed_over | rejected | abandoned | ...
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: bumped on every step; guards against two writers on PostgreSQL as a second line.
    lock_version: Mapped[int] = mapped_column(Integer, default=0)

    process_version: Mapped[ProcessVersion] = relationship(lazy="joined")


class WorkflowState(Base):
    """The serialised SpiffWorkflow instance WITHOUT its spec (kept once per version)."""

    __tablename__ = "workflow_states"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(Text)


class PendingSlim(Base):
    """A case closed by a rejection, which keeps its task tree while a supervisor may reopen
    it; the worker slims it once the reopen period after ``rejected_at`` has passed
    (engine.slim.slim_rejected_cases).  Deleted when the case is slimmed or reopened."""

    __tablename__ = "pending_slims"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    rejected_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class HumanTask(Base):
    """An open user task, as the inbox needs it; deleted when the task is done."""

    __tablename__ = "human_tasks"
    __table_args__ = (
        # "My roles": the free tasks of a role, paged by (due date, waiting since, id); the
        # badge counts from this index alone.
        Index("ix_human_tasks_inbox", "office_code", "role", "assignee", "due_at", "created_at", "id"),
        # (office_code, assignee) lookups use ix_human_tasks_assignee_due (below): one index
        # fewer to write on every step.
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # SpiffWorkflow task id
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    office_code: Mapped[str] = mapped_column(String(16))
    step: Mapped[str] = mapped_column(String(100))  # BPMN element id
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lane: Mapped[str | None] = mapped_column(String(100), nullable=True)
    role: Mapped[str] = mapped_column(String(64))
    assignee: Mapped[str | None] = mapped_column(String(64), nullable=True)
    form_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    instructions: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    case: Mapped[Case] = relationship(lazy="joined")


class CaseEvent(Base):
    """Append-only audit log: who did what to which case, when, from which office."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    office_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    kind: Mapped[str] = mapped_column(String(40))
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    step: Mapped[str | None] = mapped_column(String(100), nullable=True)
    step_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    before: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class Job(Base):
    """Work the worker does outside any request: service tasks and due timers."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # service | timer
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    step: Mapped[str | None] = mapped_column(String(100), nullable=True)
    #: pending | failed (an incident an admin can retry)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OutboxMessage(Base):
    """A message to another office, written in the same transaction as the step that sent it."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_pending", "status", "next_attempt_at"),
        # the sent rows to prune, oldest first (engine.outbox.prune_sent_messages)
        Index("ix_outbox_sent_at", "status", "sent_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(36), unique=True)  # idempotency key
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), nullable=True, index=True)
    source_office: Mapped[str] = mapped_column(String(16))
    destination_office: Mapped[str] = mapped_column(String(16), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # start_case | message
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SentMessageId(Base):
    """The id of a sent outbox message whose row was pruned (engine.outbox): a plugin that
    queues the same message again (same key) still finds it already sent."""

    __tablename__ = "outbox_sent_ids"

    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class InboxReceipt(Base):
    """Message ids already applied here: a resent message has no second effect."""

    __tablename__ = "inbox_receipts"

    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source_office: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class CaseComment(Base):
    __tablename__ = "case_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(64))
    office_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


#: The "All in my office" inbox view sorts by due date within an office.
#: The "All in my office" inbox view pages by (due date, waiting since, id) within an office
#: (engine.inbox keyset paging: the keys of a page's edge are the index's columns).
Index(
    "ix_human_tasks_office_due",
    HumanTask.office_code,
    HumanTask.due_at,
    HumanTask.created_at,
    HumanTask.id,
)
#: "Mine" the same way.
Index(
    "ix_human_tasks_assignee_due",
    HumanTask.office_code,
    HumanTask.assignee,
    HumanTask.due_at,
    HumanTask.created_at,
    HumanTask.id,
)


class Row(SimpleNamespace):
    """A table row's columns as attributes.  The step path (claim, complete) reads its task
    and case this way and writes with Core statements: no ORM identity to build and track.
    Functions that take a ``Case`` or ``HumanTask`` on that path accept a Row too."""
