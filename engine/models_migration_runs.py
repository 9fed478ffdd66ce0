"""The record of each bulk migration of running cases to another process version.  Same
declarative base as engine.models."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base
from .models import UTCDateTime, utcnow


class ProcessMigrationRun(Base):
    """One bulk migration: who moved which cases to which version, and what was refused.
    Each migrated case also has a ``case_migrated`` event in its own timeline."""

    __tablename__ = "process_migration_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100), index=True)
    target_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    requested: Mapped[int] = mapped_column(Integer, default=0)
    migrated: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)
    #: [{case_id, receipt, from_version, outcome, reason}]
    results: Mapped[list] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
