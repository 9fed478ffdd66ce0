"""Diagrams being edited (drafts, which may be invalid and are never run).  Same declarative
base as engine.models."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base
from .models import UTCDateTime, utcnow


class ProcessDraft(Base):
    """A diagram and its forms as an administrator last saved them.

    A draft may be invalid (``errors`` lists the problems, pinned to element ids); only a
    valid draft can be deployed, which makes a new ProcessVersion and closes the draft."""

    __tablename__ = "process_drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: the process id in the diagram (None while the XML cannot be read).
    process_key: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    bpmn_xml: Mapped[str] = mapped_column(Text)
    #: form key -> form-js schema edited with the draft (overrides forms found on disk).
    forms: Mapped[dict] = mapped_column(JSON, default=dict)
    #: the version this draft was started from (None for a new or imported process).
    base_version_id: Mapped[int | None] = mapped_column(ForeignKey("process_versions.id"), nullable=True)
    #: open | deployed
    status: Mapped[str] = mapped_column(String(16), default="open")
    valid: Mapped[bool] = mapped_column(default=False)
    errors: Mapped[list] = mapped_column(JSON, default=list)
    deployed_version_id: Mapped[int | None] = mapped_column(ForeignKey("process_versions.id"), nullable=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    saved_by: Mapped[str] = mapped_column(String(64))
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: bumped on every save; a save based on an older one is refused (two admins editing).
    revision: Mapped[int] = mapped_column(Integer, default=1)


class VersionCaseCount(Base):
    """How many cases run on each process version (all, and open ones), for the process
    administration list: kept by triggers on ``cases`` in the transaction that starts a case,
    ends it or migrates it to another version (migration ``scale2_0004_version_counts``),
    instead of counting a million cases on every load."""

    __tablename__ = "process_version_counts"

    process_version_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cases: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    open_cases: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
