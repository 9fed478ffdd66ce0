"""Resident-list imports from the web page, run in the background by the worker, in slices.

The page stores the upload beside a job row (``socialization_import_jobs``) and shows the
job's progress; the worker's ``run_due_work`` hook (``run_due_work`` below) runs one *slice*
of one job per pass and returns a non-zero count while work is left, so the worker passes
again at once -- after its due timers, service tasks and outbox, which never wait for more
than a slice (``SLICE_ROWS`` rows or ``SLICE_SECONDS``, whichever comes first).  Jobs take
turns: the one advanced longest ago goes next, so a small list is not stuck behind a huge one.

A job goes through phases, its place kept in the job's ``state``:

``clear``    the rows a previous run of the job left staged are deleted (in chunks);
``read``     a slice of the file's rows is read from the stored position, checked (the
             synchronous flow's rules: ``registry.check_row``, NIKs twice across slices
             too) and staged in ``socialization_import_staged`` -- in one transaction with
             the new position, so a slice is either wholly done or not at all;
``preview``  (a check) the difference against the stored lists is computed in SQL from the
             staged rows and kept beside the upload (``<token>.plan``, written by this
             module only) for the confirmation page;
``switch``   (an apply) the staged rows go into the registry in ONE short transaction of
             set-based statements (updates, inserts, residents gone, the coverage recount),
             computed against the registry as it is at that moment.

So either every valid row is stored or nothing: the registry never holds part of a list.  A
worker stopped in a slice (killed, the node restarted) leaves its lease behind; once the
lease has run out (``LEASE``) the next pass takes the job over from its last finished slice,
and after ``MAX_INTERRUPTIONS`` interruptions in a row the job fails with a message saying
that nothing was stored.  The upload and its plan are removed once the import is applied or
discarded; uploads untouched for ``STALE_AFTER`` are removed (and their jobs discarded), and
the staged rows of finished jobs deleted in chunks, by the same hook.
"""

from __future__ import annotations

import logging
import pickle
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, delete, exists, func, insert, literal, null, or_, select, text, update

from simpul import engine
from simpul.engine import N_, Message, UTCDateTime

from .models import ImportJob, Resident, StagedRow
from .registry import COMPARED, Plan, RowError, check_row, duplicate_error, open_import

log = logging.getLogger("simpul.socialization.imports")

SLICE_ROWS = 5000
SLICE_SECONDS = 0.5
LEASE = timedelta(seconds=60)
MAX_INTERRUPTIONS = 3
CLEAR_CHUNK = 20000
PREVIEW_LIMIT = 200
STALE_AFTER = timedelta(days=1)
RUNNING = ("queued", "running")
UNFINISHED = ("queued", "checked", "needs_mapping")

MSG_INTERRUPTED = N_(
    "The import was interrupted {count} times in a row and was given up; nothing was stored. Upload the list again."
)

_STAGED = StagedRow.__table__
_RESIDENTS = Resident.__table__
_BLANK = {c.name: None for c in _STAGED.columns if c.name != "id"}


def uploads_dir(runtime) -> Path:
    return Path(runtime.config.instance_path) / "socialization-uploads"


def _now() -> datetime:
    return datetime.now(UTC)


def count_rows(data: bytes, suffix: str) -> int | None:
    """The number of data rows, cheaply, for the progress bar (``None`` where unknown)."""
    if suffix == ".csv":
        lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        return max(lines - 1, 0)
    return None


def queue(runtime, token: str, meta: dict, action: str, options: dict, rows_total: int | None) -> None:
    """Queue (or re-queue, for ``apply``) the job of an upload and wake the worker."""
    now = _now()
    with runtime.transaction() as uow:
        s = uow.session
        job = s.scalar(select(ImportJob).where(ImportJob.token == token))
        if job is None:
            job = ImportJob(
                token=token,
                office_code=meta["office"],
                username=meta["user"],
                filename=meta["name"],
                created_at=now,
            )
            s.add(job)
        job.action, job.status, job.options = action, "queued", options
        job.rows_done, job.rows_total, job.result, job.error, job.updated_at = 0, rows_total, None, None, now
        job.state, job.lease, job.lease_until, job.interruptions = None, None, None, 0
    runtime.wakeup.notify_local()  # the embedded worker, if this process runs one


def job_of(runtime, token: str, office_code: str) -> dict | None:
    """The job of an upload as the page shows it; ``None`` for none or another office's."""
    with runtime.read() as s:
        job = s.scalar(select(ImportJob).where(ImportJob.token == token, ImportJob.office_code == office_code))
        if job is None:
            return None
        out = {
            c: getattr(job, c)
            for c in ("token", "filename", "action", "status", "options", "rows_done", "rows_total", "result", "error")
        }
        state = job.state or {}
        out["phase"] = state.get("phase", "clear")
        out["stored"] = state.get("valid", 0)
        out["interrupted"] = state.get("interrupted", 0) + (job.interruptions or 0)
        return out


def load_plan(runtime, token: str):
    path = uploads_dir(runtime) / f"{token}.plan"
    if not path.exists():
        return None
    return pickle.loads(path.read_bytes())  # written by _preview below, never from a request


def remove_upload(runtime, token: str) -> None:
    for path in uploads_dir(runtime).glob(f"{token}.*"):
        path.unlink(missing_ok=True)


def discard(runtime, token: str, office_code: str) -> None:
    remove_upload(runtime, token)
    with runtime.transaction() as uow:
        uow.session.execute(
            update(ImportJob)
            .where(ImportJob.token == token, ImportJob.office_code == office_code)
            .values(status="discarded", updated_at=_now())
        )


# -- taking a slice -----------------------------------------------------------------------


class _LostLease(Exception):
    """Another worker took the job over while this slice ran (it outlasted its lease)."""


def _claim(runtime) -> ImportJob | None:
    """The running job advanced longest ago whose lease is free, leased for one slice."""
    now = _now()
    with runtime.transaction() as uow:
        s = uow.session
        stmt = (
            select(ImportJob)
            .where(
                ImportJob.status.in_(RUNNING),
                or_(ImportJob.lease_until.is_(None), ImportJob.lease_until < now),
            )
            .order_by(ImportJob.updated_at, ImportJob.id)
            .limit(1)
        )
        job = s.scalar(runtime.db.skip_locked(stmt))
        if job is None:
            return None
        values: dict = {"status": "running", "lease": secrets.token_hex(8), "lease_until": now + LEASE}
        if job.lease is not None:  # its last slice never finished: the worker was stopped in it
            values["interruptions"] = (job.interruptions or 0) + 1
        held = ImportJob.lease.is_(None) if job.lease is None else ImportJob.lease == job.lease
        claimed = s.execute(update(ImportJob).where(ImportJob.id == job.id, held).values(**values)).rowcount
        if not claimed:
            return None
        for key, value in values.items():
            setattr(job, key, value)
        s.expunge(job)
        return job


def _done(uow, job: ImportJob, state: dict | None, **values) -> None:
    """End the slice in its own transaction: the job's new state, its lease given back."""
    if state is not None:
        state = {**state, "interrupted": state.get("interrupted", 0) + (job.interruptions or 0)}
        values["state"] = state
    ended = uow.session.execute(
        update(ImportJob)
        .where(ImportJob.id == job.id, ImportJob.lease == job.lease)
        .values(lease=None, lease_until=None, interruptions=0, updated_at=_now(), **values)
    ).rowcount
    if not ended:
        raise _LostLease


def _finish(runtime, job: ImportJob, **values) -> None:
    with runtime.transaction() as uow:
        _done(uow, job, None, **values)


def _run(runtime, job: ImportJob) -> int:
    """One slice of a job; the rows it handled (at least 1)."""
    if (job.interruptions or 0) > MAX_INTERRUPTIONS:
        tr = runtime.translations()
        message = Message(MSG_INTERRUPTED, count=job.interruptions).render(tr)
        _finish(runtime, job, status="failed", error=message[:1000])
        return 1
    files = [p for p in uploads_dir(runtime).glob(f"{job.token}.*") if p.suffix in (".csv", ".xlsx")]
    if not files:
        _finish(runtime, job, status="discarded")
        return 1
    state = dict(job.state or {"phase": "clear"})
    phase = {"clear": _clear, "read": _read, "preview": _preview, "switch": _switch}[state["phase"]]
    try:
        return phase(runtime, job, state, files[0])
    except _LostLease:
        log.warning("import job %s: taken over by another worker; its slice is rolled back", job.token)
        return 0
    except engine.InvalidInput as exc:
        tr = runtime.translations()
        _finish(runtime, job, status="failed", error=exc.render(catalogue=tr)[:1000])
    except Exception as exc:  # the job is failed (its slice rolled back: nothing stored), the worker goes on
        log.exception("import job %s failed", job.token)
        _finish(runtime, job, status="failed", error=(str(exc) or type(exc).__name__)[:1000])
    return 1


def _clear(runtime, job: ImportJob, state: dict, path: Path) -> int:
    with runtime.transaction() as uow:
        chunk = select(StagedRow.id).where(StagedRow.job_id == job.id).limit(CLEAR_CHUNK)
        gone = uow.session.execute(delete(StagedRow).where(StagedRow.id.in_(chunk.scalar_subquery()))).rowcount
        if gone < CLEAR_CHUNK:
            state = {"phase": "read", "at": None, "rows": 0, "valid": 0, "errors": 0}
        _done(uow, job, state)
    return max(gone, 1)


def _read(runtime, job: ImportJob, state: dict, path: Path) -> int:
    options = job.options or {}
    reading = open_import(
        runtime,
        path.read_bytes(),
        "x" + path.suffix,
        job.office_code,
        kelurahan=options.get("kelurahan") or None,
        mapping=options.get("mapping") or None,
        after=state.get("at"),
    )
    if reading.problems:  # the columns: the operator's mapping step, nothing read
        if job.action == "check":
            plan = Plan(problems=reading.problems)
            (path.parent / f"{job.token}.plan").write_bytes(pickle.dumps(plan))
            _finish(runtime, job, status="needs_mapping", rows_done=0, rows_total=0)
        else:
            result = {"imported": 0, "updated": 0, "unchanged": 0, "gone": 0, "errors": len(reading.problems)}
            _finish(runtime, job, status="stopped", result=result)
        return 1
    began, batch, at, finished = time.perf_counter(), [], state.get("at"), True
    for number, cells, position in reading.rows:
        values, errors = check_row(reading, number, cells)
        batch.append((number, values, errors))
        at = position
        if len(batch) >= SLICE_ROWS or (len(batch) % 200 == 0 and time.perf_counter() - began > SLICE_SECONDS):
            finished = False
            break
    with runtime.transaction() as uow:
        staged, valid, faults = _stage(uow.session, job.id, reading, batch)
        if staged:
            uow.session.connection().execute(insert(_STAGED), staged)
        rows = state["rows"] + len(batch)
        state = {
            **state,
            "at": at,
            "rows": rows,
            "valid": state["valid"] + valid,
            "errors": state["errors"] + faults,
            "fixed": reading.checker.fixed,
        }
        values = {"rows_done": rows}
        if finished:
            state["phase"] = "preview" if job.action == "check" else "switch"
            values["rows_total"] = rows
        _done(uow, job, state, **values)
    return max(len(batch), 1)


def _stage(session, job_id: int, reading, batch: list) -> tuple[list[dict], int, int]:
    """The staged rows of a slice (valid rows, NIKs of invalid ones, errors), with the
    file-wide duplicate check against the rows staged by earlier slices."""
    niks = sorted({values["nik"] for _n, values, errors in batch if not errors})
    first: dict[str, int] = {}
    for start in range(0, len(niks), 500):
        first.update(
            session.execute(
                select(StagedRow.nik, StagedRow.row_number).where(
                    StagedRow.job_id == job_id, StagedRow.kind == "row", StagedRow.nik.in_(niks[start : start + 500])
                )
            ).all()
        )
    staged: list[dict] = []
    valid = faults = 0
    for number, values, errors in batch:
        nik = values["nik"]
        if not errors and nik in first:
            errors = [duplicate_error(reading, number, nik, first[nik])]
        if errors:
            faults += len(errors)
            for e in errors:
                message = e.message if isinstance(e.message, Message) else Message(e.message)
                staged.append(
                    {
                        **_BLANK,
                        "job_id": job_id,
                        "kind": "error",
                        "row_number": number,
                        "column_name": (e.column or "")[:200],
                        "message": message.to_dict(),
                    }
                )
            if nik and len(nik) <= 16:
                bad = {"kind": "bad", "row_number": number, "nik": nik, "kelurahan_code": values.get("kelurahan_code")}
                staged.append({**_BLANK, "job_id": job_id, **bad})
            continue
        first[nik] = number
        valid += 1
        staged.append(
            {
                **_BLANK,
                **{f: values.get(f) for f in COMPARED},
                "job_id": job_id,
                "kind": "row",
                "row_number": number,
                "nik": nik,
                "kelurahan_code": values["kelurahan_code"],
            }
        )
    return staged, valid, faults


# -- the difference, in SQL over the staged rows --------------------------------------------


class _Diff:
    """The statements comparing a job's staged rows with the registry as it is now (the
    synchronous ``registry._compare`` rules, set-based)."""

    def __init__(self, session, job_id: int, office_code: str, fixed: str | None):
        if session.get_bind().dialect.name == "postgresql":
            # the planner's figures for the rows just staged (autovacuum has not seen them):
            # without them it loops over the staged rows once per resident
            session.execute(text("ANALYZE socialization_import_staged"))
        st, r = _STAGED, _RESIDENTS
        self.st, self.r, self.office = st, r, office_code
        self.valid = and_(st.c.job_id == job_id, st.c.kind == "row")
        kelurahan = set(session.scalars(select(st.c.kelurahan_code).where(self.valid).distinct()))
        self.kelurahan = sorted(kelurahan | ({fixed} if fixed else set()))
        self.same_key = and_(
            r.c.office_code == office_code, r.c.kelurahan_code == st.c.kelurahan_code, r.c.nik == st.c.nik
        )
        self.differs = or_(r.c.gone_at.is_not(None), *(r.c[f].is_distinct_from(st.c[f]) for f in COMPARED))
        self.new = and_(self.valid, ~exists().where(self.same_key))
        listed = exists().where(self.valid, self.same_key)
        bad = and_(st.c.job_id == job_id, st.c.kind == "bad", st.c.nik == r.c.nik)
        bad_here = exists().where(bad, st.c.kelurahan_code == r.c.kelurahan_code)
        bad_nowhere = exists().where(bad, st.c.kelurahan_code.is_(None))  # no kelurahan known
        self.gone = and_(
            r.c.office_code == office_code,
            r.c.kelurahan_code.in_(self.kelurahan),
            r.c.gone_at.is_(None),
            ~listed,
            ~bad_here,
            ~bad_nowhere,
        )

    def count(self, session, stmt) -> int:
        return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


def _staged_errors(session, job_id: int) -> list[RowError]:
    rows = session.execute(
        select(StagedRow.row_number, StagedRow.column_name, StagedRow.message)
        .where(StagedRow.job_id == job_id, StagedRow.kind == "error")
        .order_by(StagedRow.id)
    ).all()
    return [RowError(n, column, Message.from_dict(message)) for n, column, message in rows]


def _preview(runtime, job: ImportJob, state: dict, path: Path) -> int:
    """The confirmation page's plan: counts of the whole difference, its first rows."""
    with runtime.transaction() as uow:
        s = uow.session
        d = _Diff(s, job.id, job.office_code, state.get("fixed"))
        st, r = d.st, d.r
        fields = [st.c.nik, st.c.kelurahan_code, *(st.c[f] for f in COMPARED)]
        new_q = select(*fields).where(d.new).order_by(st.c.id)
        old = [r.c[f].label(f"old_{f}") for f in COMPARED]
        changed_q = select(r.c.id.label("rid"), *fields, *old).join(r, d.same_key).where(d.valid, d.differs)
        gone_q = select(r.c.id, r.c.kelurahan_code, r.c.nik, r.c.name).where(d.gone)
        plan = Plan(kelurahan=d.kelurahan, rows=state["rows"], errors=_staged_errors(s, job.id))
        plan.new = [dict(m) for m in s.execute(new_q.limit(PREVIEW_LIMIT)).mappings()]
        for m in s.execute(changed_q.order_by(st.c.id).limit(PREVIEW_LIMIT)).mappings():
            values = {k: m[k] for k in ("nik", "kelurahan_code", *COMPARED)}
            diff = {f: (m[f"old_{f}"], m[f]) for f in COMPARED if m[f"old_{f}"] != m[f]}
            plan.changed.append((m["rid"], values, diff))
        plan.gone = [
            {"id": g.id, "kelurahan": g.kelurahan_code, "nik": g.nik, "name": g.name}
            for g in s.execute(gone_q.order_by(r.c.id).limit(PREVIEW_LIMIT))
        ]
        totals = {"new": d.count(s, new_q), "changed": d.count(s, changed_q), "gone": d.count(s, gone_q)}
        plan.totals = totals
        plan.unchanged = state["valid"] - totals["new"] - totals["changed"]
        (path.parent / f"{job.token}.plan").write_bytes(pickle.dumps(plan))
        _done(uow, job, {**state, "phase": "done"}, status="checked", rows_done=plan.rows, rows_total=plan.rows)
    return 1


def _switch(runtime, job: ImportJob, state: dict, path: Path) -> int:
    """The staged rows into the registry, in one transaction (or nothing, on stop-on-error)."""
    from .coverage import rebuild_cells
    from .settings import record_from_age

    stop = bool((job.options or {}).get("stop"))
    with runtime.transaction() as uow:
        s = uow.session
        conn = s.connection()
        d = _Diff(s, job.id, job.office_code, state.get("fixed"))
        st, r = d.st, d.r
        if stop and state["errors"]:
            gone = d.count(s, select(r.c.id).where(d.gone))
            result = {"imported": 0, "updated": 0, "unchanged": 0, "gone": gone, "errors": state["errors"]}
            _done(uow, job, {**state, "phase": "done"}, status="stopped", result=result)
            return 1
        now = _now()
        stamp = {"imported_at": literal(now, UTCDateTime()), "imported_by": literal(job.username)}
        updated = conn.execute(
            update(r)
            .where(d.valid, d.same_key, d.differs)
            .values(**{f: st.c[f] for f in COMPARED}, **stamp, gone_at=null())
        ).rowcount
        columns = ["nik", "kelurahan_code", *COMPARED]
        source = select(
            *(st.c[c] for c in columns), literal(job.office_code), stamp["imported_at"], stamp["imported_by"]
        ).where(d.new)
        imported = d.count(s, source)  # INSERT ... SELECT has no row count on every driver
        conn.execute(insert(r).from_select([*columns, "office_code", "imported_at", "imported_by"], source))
        gone = conn.execute(update(r).where(d.gone).values(gone_at=now)).rowcount
        rebuild_cells(s, job.office_code, runtime.today(), record_from_age(runtime))
        result = {
            "imported": imported,
            "updated": updated,
            "unchanged": state["valid"] - imported - updated,
            "gone": gone,
            "errors": state["errors"],
        }
        _done(uow, job, {**state, "phase": "done"}, status="applied", result=result)
    remove_upload(runtime, job.token)
    return max(state["rows"], 1)


# -- housekeeping ---------------------------------------------------------------------------


def remove_stale(runtime, now: float | None = None) -> int:
    """Remove uploads untouched for ``STALE_AFTER`` and discard their unfinished jobs."""
    folder = uploads_dir(runtime)
    if not folder.exists():
        return 0
    limit = (now or time.time()) - STALE_AFTER.total_seconds()
    tokens = set()
    for path in folder.iterdir():
        try:
            if path.stat().st_mtime < limit:
                path.unlink(missing_ok=True)
                tokens.add(path.name.split(".")[0])
        except FileNotFoundError:
            continue
    if tokens:
        with runtime.transaction() as uow:
            uow.session.execute(
                update(ImportJob)
                .where(ImportJob.token.in_(sorted(tokens)), ImportJob.status.in_(UNFINISHED))
                .values(status="discarded", updated_at=_now())
            )
    return 0  # housekeeping: never a reason for the worker to pass again at once


#: what the worker asks at every pass, in one read: a job to run, a finished job's staged rows
#: to clear.  Nearly always neither, so one statement (built once) answers without the write lock.
_WORK_DUE = select(
    select(ImportJob.id).where(ImportJob.status.in_(RUNNING)).limit(1).scalar_subquery(),
    select(ImportJob.id)
    .where(ImportJob.status.not_in(RUNNING), exists().where(StagedRow.job_id == ImportJob.id))
    .limit(1)
    .scalar_subquery(),
)


def sweep_staged(runtime, job_id: int) -> int:
    """Delete a chunk of the staged rows of finished job ``job_id``; non-zero when more may be left."""
    with runtime.transaction() as uow:
        chunk = select(StagedRow.id).where(StagedRow.job_id == job_id).limit(CLEAR_CHUNK)
        deleted = uow.session.execute(delete(StagedRow).where(StagedRow.id.in_(chunk.scalar_subquery()))).rowcount
    return 1 if deleted >= CLEAR_CHUNK else 0  # a full chunk: more may be left


def run_due_work(runtime) -> int:
    """The worker's hook: housekeeping, then one slice of the import job whose turn it is;
    non-zero while more is due at once (the worker passes again without waiting)."""
    remove_stale(runtime)
    # the worker asks after every step's commit, and nearly always no import runs: a read
    # answers that without taking SQLite's write lock from the clerks' steps
    with runtime.read() as s:
        running, finished = s.execute(_WORK_DUE).one()
    swept = sweep_staged(runtime, finished) if finished is not None else 0
    job = _claim(runtime) if running is not None else None
    return (_run(runtime, job) if job is not None else 0) + swept
