"""The document store's table: one row per uploaded scan of a case's requirement.

The file itself lives once per content under ``instance/documents/`` (content-addressed by
its SHA-256); the row holds what the office needs to show and check it.  See engine/documents.py.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base
from .models import UTCDateTime, utcnow


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_case_requirement", "case_id", "requirement_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    #: the case's office, kept on the row so isolation never depends on a join being remembered.
    office_code: Mapped[str] = mapped_column(String(16))
    requirement_key: Mapped[str] = mapped_column(String(64))
    #: the name the file had on the clerk's computer (shown; never used to decide the type).
    filename: Mapped[str] = mapped_column(String(200))
    #: sniffed from the content: application/pdf, image/jpeg or image/png.
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: photo checks that did not pass: [{"code", "message", "params"}] (warnings, never blocks).
    warnings: Mapped[list] = mapped_column(JSON, default=list)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
