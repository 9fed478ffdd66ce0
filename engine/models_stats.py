"""Summary rows behind the camat's dashboard and the monthly recap.

One ``step_marks`` row is written for every step a case passes (a task completed, a service
run, a message received, the case started or ended), in the same transaction as the step and
its audit event.  The dashboard and the recap read only index ranges of these rows (office,
kind of mark, time), never the event log or the workflow states, so a page view costs the
same at a thousand cases as at a million."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base
from .models import UTCDateTime


class StepMark(Base):
    __tablename__ = "step_marks"
    __table_args__ = (
        Index("ix_step_marks_office_at", "office_code", "closed_at"),
        Index("ix_step_marks_office_milestone_at", "office_code", "milestone", "closed_at"),
        Index("ix_step_marks_case", "case_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    office_code: Mapped[str] = mapped_column(String(16))
    process_key: Mapped[str] = mapped_column(String(100))
    #: task | service | message | start | end
    kind: Mapped[str] = mapped_column(String(16))
    step: Mapped[str | None] = mapped_column(String(100), nullable=True)
    step_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: started | recorded | sent | printed | suket | handed_over | rejected | abandoned | ... (or None)
    milestone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: the resident's kelurahan/desa (from the application), for the monthly recap
    kelurahan: Mapped[str | None] = mapped_column(String(100), nullable=True)
    role: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: when the step became the case's to do (task created, or the previous mark of the case)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: the task was done after its due time
    breached: Mapped[bool] = mapped_column(Boolean, default=False)
