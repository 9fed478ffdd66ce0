"""The socialization plugin's own tables: the kelurahan resident registry (daftar penduduk)
and each resident's e-KTP state as Simpul's cases show it.

Declared on the plugin's own metadata and created by its own Alembic history
(``migrations/``, recorded in ``alembic_version_socialization``), never by the engine's.

* ``socialization_residents``: one row per resident of a kelurahan list, per office; the key
  is (office, kelurahan, NIK).  A NIK may stand in two kelurahan lists (a resident who moved
  and was not struck off): that is a mismatch flag, not an import error.  A resident who is
  no longer on a newer list keeps the row with ``gone_at`` set (never lose track of one).
* ``socialization_case_states``: one row per (office, NIK) that Simpul has had a case for,
  written by the ``case_event_recorded`` hook in the transaction of the step itself, so the
  coverage page never joins every case.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from simpul.engine import UTCDateTime


class Base(DeclarativeBase):
    """The socialization plugin's tables (migrated by its own history, ``migrations/``)."""


class Resident(Base):
    __tablename__ = "socialization_residents"
    __table_args__ = (
        Index("ix_soc_residents_key", "office_code", "kelurahan_code", "nik", unique=True),
        Index("ix_soc_residents_nik", "office_code", "nik"),
        Index("ix_soc_residents_live_nik", "office_code", "nik", "gone_at"),  # the flags page
        Index("ix_soc_residents_area", "office_code", "kelurahan_code", "rw", "rt"),
        Index("ix_soc_residents_birth", "office_code", "birth_date"),
        Index("ix_soc_residents_office_id", "office_code", "id"),  # keyset pages (the without-e-KTP list)
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    office_code: Mapped[str] = mapped_column(String(16))
    kelurahan_code: Mapped[str] = mapped_column(String(16))
    nik: Mapped[str] = mapped_column(String(16))
    kk_number: Mapped[str | None] = mapped_column(String(16), nullable=True)
    name: Mapped[str] = mapped_column(String(120))
    sex: Mapped[str] = mapped_column(String(1))  # L | P
    birth_place: Mapped[str | None] = mapped_column(String(60), nullable=True)
    birth_date: Mapped[date] = mapped_column(Date)
    marital_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    address: Mapped[str | None] = mapped_column(String(200), nullable=True)
    rt: Mapped[str | None] = mapped_column(String(3), nullable=True)
    rw: Mapped[str | None] = mapped_column(String(3), nullable=True)
    #: what the kelurahan list says (None: the list does not say).
    has_ektp: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    ektp_since: Mapped[date | None] = mapped_column(Date, nullable=True)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    imported_by: Mapped[str] = mapped_column(String(64))
    #: no longer on the kelurahan's newest list (moved, deceased); kept for the record.
    gone_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CaseState(Base):
    __tablename__ = "socialization_case_states"

    office_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    nik: Mapped[str] = mapped_column(String(16), primary_key=True)
    #: recorded (a case is open) | printed | handed_over | none (the only case was closed)
    state: Mapped[str] = mapped_column(String(16))
    receipt: Mapped[str] = mapped_column(String(40))
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    printed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    handed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: the case's own resident data (for the mismatch flags), as it started.
    case_name: Mapped[str | None] = mapped_column(String(120), nullable=True)
    case_birth_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    case_sex: Mapped[str | None] = mapped_column(String(1), nullable=True)
    case_kk: Mapped[str | None] = mapped_column(String(16), nullable=True)
    case_address: Mapped[str | None] = mapped_column(String(200), nullable=True)
    case_kelurahan: Mapped[str | None] = mapped_column(String(100), nullable=True)


class CoverageCell(Base):
    """The coverage figures kept ready: residents per (kelurahan, RW, RT, sex, age band,
    eligible, state), as of ``CoverageDay.day``.  Rebuilt by an import and on the first read
    of a new day (ages change at midnight); moved by ``case_event_recorded`` in the step's
    own transaction when a resident's state changes."""

    __tablename__ = "socialization_coverage_cells"

    office_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    kelurahan_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    rw: Mapped[str] = mapped_column(String(3), primary_key=True)
    rt: Mapped[str] = mapped_column(String(3), primary_key=True)
    sex: Mapped[str] = mapped_column(String(1), primary_key=True)
    band: Mapped[str] = mapped_column(String(8), primary_key=True)
    eligible: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    #: none | recorded | printed | carded
    state: Mapped[str] = mapped_column(String(16), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class CoverageDay(Base):
    __tablename__ = "socialization_coverage_days"

    office_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    from_age: Mapped[int] = mapped_column(Integer)


class FlagResolution(Base):
    """A verifier's resolution of a mismatch flag, with the note that explains it.

    Flags themselves are computed from the registry and the case states whenever they are
    shown (so a flag disappears as soon as the data agree); a resolution is matched to a flag
    by (office, NIK, kind, fingerprint of the two values): a flag whose values change again
    shows as open again."""

    __tablename__ = "socialization_flag_resolutions"
    __table_args__ = (Index("ix_soc_flag_res_key", "office_code", "nik", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    office_code: Mapped[str] = mapped_column(String(16))
    nik: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    fingerprint: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(1000))
    resolved_by: Mapped[str] = mapped_column(String(64))
    resolved_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Campaign(Base):
    """An outreach campaign: its goal, the coverage filter its target list was taken from,
    dates, the media used and the staff assigned."""

    __tablename__ = "socialization_campaigns"
    __table_args__ = (Index("ix_soc_campaigns_office", "office_code", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    office_code: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    goal: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    target_filter: Mapped[dict] = mapped_column(JSON)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    media: Mapped[list] = mapped_column(JSON)
    staff: Mapped[list] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CampaignTarget(Base):
    __tablename__ = "socialization_campaign_targets"
    __table_args__ = (Index("ix_soc_targets_nik", "nik"),)

    campaign_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nik: Mapped[str] = mapped_column(String(16))


class Visit(Base):
    """A recording visit (jemput bola): place, date, time, staff; its expected residents are
    its campaign's target list."""

    __tablename__ = "socialization_visits"
    __table_args__ = (Index("ix_soc_visits_office", "office_code", "visit_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    office_code: Mapped[str] = mapped_column(String(16))
    campaign_id: Mapped[int] = mapped_column(Integer)
    place: Mapped[str] = mapped_column(String(200))
    visit_date: Mapped[date] = mapped_column(Date)
    visit_time: Mapped[str | None] = mapped_column(String(5), nullable=True)
    staff: Mapped[list] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Attendance(Base):
    __tablename__ = "socialization_visit_attendance"

    visit_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nik: Mapped[str] = mapped_column(String(16))
    receipt: Mapped[str | None] = mapped_column(String(40), nullable=True)
    problem: Mapped[str | None] = mapped_column(String(500), nullable=True)
    marked_by: Mapped[str] = mapped_column(String(64))
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ImportJob(Base):
    """A resident-list import run by the worker (``run_due_work``) for the web page: the
    upload is checked (``action="check"``) or applied (``"apply"``) in the background, its
    progress (rows done of total) written as it goes; statuses ``queued``, ``running``,
    ``checked``, ``needs_mapping``, ``applied``, ``stopped`` (nothing stored), ``failed``,
    ``discarded``.  A running job goes in slices, one per worker pass: ``state`` holds its phase
    and the position in the file, ``lease``/``lease_until`` the slice being run (a lease left
    behind is a slice that never finished: ``interruptions`` counts them)."""

    __tablename__ = "socialization_import_jobs"
    __table_args__ = (
        Index("ix_soc_import_jobs_token", "token", unique=True),
        Index("ix_soc_import_jobs_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token: Mapped[str] = mapped_column(String(24))
    office_code: Mapped[str] = mapped_column(String(16))
    username: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    options: Mapped[dict] = mapped_column(JSON)  # {"kelurahan", "mapping", "stop_on_error"}
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    rows_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # {"phase", "at", "rows", ...}
    lease: Mapped[str | None] = mapped_column(String(16), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    interruptions: Mapped[int] = mapped_column(Integer, default=0)


class StagedRow(Base):
    """A row of a running import, checked and kept here until the import's last slice moves
    them into the registry in one transaction (``import_jobs``): ``kind`` ``row`` (a valid
    row, the resident's values), ``bad`` (the NIK of an invalid row: its stored resident is
    not gone) or ``error`` (a fault of a row: column and message)."""

    __tablename__ = "socialization_import_staged"
    __table_args__ = (Index("ix_soc_import_staged_nik", "job_id", "nik", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(5))
    row_number: Mapped[int] = mapped_column(Integer)
    nik: Mapped[str | None] = mapped_column(String(16), nullable=True)
    kelurahan_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    kk_number: Mapped[str | None] = mapped_column(String(16), nullable=True)
    name: Mapped[str | None] = mapped_column(String(120), nullable=True)
    sex: Mapped[str | None] = mapped_column(String(1), nullable=True)
    birth_place: Mapped[str | None] = mapped_column(String(60), nullable=True)
    birth_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    marital_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    address: Mapped[str | None] = mapped_column(String(200), nullable=True)
    rt: Mapped[str | None] = mapped_column(String(3), nullable=True)
    rw: Mapped[str | None] = mapped_column(String(3), nullable=True)
    has_ektp: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    ektp_since: Mapped[date | None] = mapped_column(Date, nullable=True)
    column_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    message: Mapped[dict | None] = mapped_column(JSON, nullable=True)
