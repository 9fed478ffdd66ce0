"""Resident-list imports from the web page, run in the background by the worker.

The page stores the upload beside a job row (``socialization_import_jobs``) and shows the
job's progress; the worker's ``run_due_work`` hook (``run_due_work`` below) takes the oldest
queued job, checks the file (``plan_import``, writing rows done / total every
``PROGRESS_EVERY`` rows in short transactions of its own) and keeps the plan beside the upload
(``<token>.plan``, written by this module only) for the confirmation page; an ``apply`` job
checks the file again and stores it with ``apply_import``, all-or-nothing in one transaction
as in the synchronous flow.  The upload and its plan are removed once the import is applied
or discarded; uploads untouched for ``STALE_AFTER`` are removed (and their jobs discarded) by
the same hook.  One job per worker pass: a list of hundreds of thousands of rows keeps the
worker for as long as its check takes, which the page shows as it goes.
"""

from __future__ import annotations

import logging
import pickle
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from simpul import engine

from .models import ImportJob
from .registry import apply_import, plan_import

log = logging.getLogger("simpul.socialization.imports")

PROGRESS_EVERY = 1000
STALE_AFTER = timedelta(days=1)
RUNNING = ("queued", "running")
UNFINISHED = ("queued", "checked", "needs_mapping")


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
    runtime.wakeup.notify_local()  # the embedded worker, if this process runs one


def job_of(runtime, token: str, office_code: str) -> dict | None:
    """The job of an upload as the page shows it; ``None`` for none or another office's."""
    with runtime.read() as s:
        job = s.scalar(select(ImportJob).where(ImportJob.token == token, ImportJob.office_code == office_code))
        if job is None:
            return None
        return {
            c: getattr(job, c)
            for c in ("token", "filename", "action", "status", "options", "rows_done", "rows_total", "result", "error")
        }


def load_plan(runtime, token: str):
    path = uploads_dir(runtime) / f"{token}.plan"
    if not path.exists():
        return None
    return pickle.loads(path.read_bytes())  # written by _run below, never from a request


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


def _claim(runtime) -> ImportJob | None:
    with runtime.transaction() as uow:
        s = uow.session
        stmt = select(ImportJob).where(ImportJob.status == "queued").order_by(ImportJob.id).limit(1)
        job = s.scalar(runtime.db.skip_locked(stmt))
        if job is None:
            return None
        claimed = s.execute(
            update(ImportJob)
            .where(ImportJob.id == job.id, ImportJob.status == "queued")
            .values(status="running", updated_at=_now())
        ).rowcount
        if not claimed:
            return None
        s.expunge(job)
        return job


def _set(runtime, job_id: int, **values) -> None:
    with runtime.transaction() as uow:
        uow.session.execute(update(ImportJob).where(ImportJob.id == job_id).values(updated_at=_now(), **values))


class _Progress:
    """``plan_import``'s progress callback: rows done, written every ``PROGRESS_EVERY`` rows."""

    def __init__(self, runtime, job_id: int):
        self.runtime, self.job_id, self.done = runtime, job_id, 0

    def __call__(self, n: int) -> None:
        self.done += n
        if self.done % PROGRESS_EVERY == 0:
            _set(self.runtime, self.job_id, rows_done=self.done)


def _run(runtime, job: ImportJob) -> int:
    folder = uploads_dir(runtime)
    files = [p for p in folder.glob(f"{job.token}.*") if p.suffix in (".csv", ".xlsx")]
    if not files:
        _set(runtime, job.id, status="discarded")
        return 1
    data, suffix = files[0].read_bytes(), files[0].suffix
    options = job.options or {}
    progress = _Progress(runtime, job.id)
    try:
        plan = plan_import(
            runtime,
            data,
            "x" + suffix,
            job.office_code,
            kelurahan=options.get("kelurahan") or None,
            mapping=options.get("mapping") or None,
            progress=progress,
        )
        if job.action == "check":
            (folder / f"{job.token}.plan").write_bytes(pickle.dumps(plan))
            status = "needs_mapping" if plan.stopped else "checked"
            _set(runtime, job.id, status=status, rows_done=plan.rows, rows_total=plan.rows)
            return max(plan.rows, 1)
        _set(runtime, job.id, status="running", rows_done=plan.rows, rows_total=plan.rows, result={"phase": "storing"})
        applied = apply_import(runtime, plan, job.office_code, job.username, stop_on_error=bool(options.get("stop")))
        result = {
            "imported": len(plan.new) if applied else 0,
            "updated": len(plan.changed) if applied else 0,
            "unchanged": plan.unchanged if applied else 0,
            "gone": len(plan.gone),
            "errors": len(plan.errors) + len(plan.problems),
        }
        if applied:
            remove_upload(runtime, job.token)
        _set(runtime, job.id, status="applied" if applied else "stopped", result=result)
        return max(plan.rows, 1)
    except engine.InvalidInput as exc:
        tr = runtime.translations()
        _set(runtime, job.id, status="failed", error=exc.render(catalogue=tr)[:1000])
    except Exception as exc:  # the job is failed, the worker goes on
        log.exception("import job %s failed", job.token)
        _set(runtime, job.id, status="failed", error=(str(exc) or type(exc).__name__)[:1000])
    return 1


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


def run_due_work(runtime) -> int:
    """The worker's hook: remove stale uploads, then run the oldest queued import job."""
    remove_stale(runtime)
    job = _claim(runtime)
    return _run(runtime, job) if job is not None else 0
