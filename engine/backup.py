"""Backups of a node's database while it runs, the start-up check, and restoring a backup.

An office PC loses power; a disk can come back with a damaged database. So:

* ``backup(runtime)`` writes a consistent copy while cases are being worked: SQLite's online
  backup API (``sqlite3.Connection.backup``, a snapshot of one moment; a WAL database keeps
  serving meanwhile) or ``pg_dump`` (one snapshot transaction) for PostgreSQL.  It goes to a
  folder (a USB disk), under a name that sorts by time, written beside and renamed into place
  so a half-written copy never looks like a backup, and only the newest ``backup_keep`` stay.
* ``BackupSchedule`` runs it from the worker every ``backup_every_hours`` when
  ``backup_dir`` is set (node settings ``SIMPUL_BACKUP_DIR``, ``SIMPUL_BACKUP_EVERY_HOURS``,
  ``SIMPUL_BACKUP_KEEP``).
* ``check_database(runtime)`` runs SQLite's ``PRAGMA quick_check`` at start-up (``simpul
  run``, ``simpul worker``, the web app factory); a damaged database is refused with what to
  do: restore the latest backup, with the command.
* ``restore(runtime, path)`` checks the file first (a Simpul backup, undamaged, of a schema
  revision this Simpul has: the same, or older and upgraded after the restore) and refuses
  while a node runs on the database; a refusal changes nothing.

A node that runs (``simpul run``, ``simpul worker``) holds ``node_lock``: a shared ``flock`` on
a file beside the SQLite database, released by the kernel however the process ends.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import sqlite3
import subprocess
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from .errors import Conflict, InvalidInput, SimpulError

log = logging.getLogger("simpul.backup")

SQLITE_SUFFIX = ".db"
PG_SUFFIX = ".pgdump"
PREFIX = "simpul-"


class DatabaseDamaged(SimpulError):
    """The node's database failed its integrity check: nothing is served from it."""

    code = "database_damaged"
    status = 503


class BackupFailed(SimpulError):
    code = "backup_failed"
    status = 500


# -- where things are --------------------------------------------------------------------


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL or an in-memory database)."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite"):
        return None
    return Path(url.database) if url.database and url.database != ":memory:" else None


def libpq_url(database_url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as pg_dump/pg_restore take it."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _lock_path(config) -> Path:
    path = sqlite_path(config.database_url)
    return Path(f"{path}.node-lock") if path else Path(config.instance_path) / "node.lock"


def backup_folder(config, folder=None) -> Path:
    chosen = folder or config.backup_dir
    if not chosen:
        raise InvalidInput("No backup folder: give --to FOLDER or set SIMPUL_BACKUP_DIR.")
    return Path(chosen)


def list_backups(folder) -> list[Path]:
    """Backups in ``folder``, oldest first (their names sort by the time they were taken)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.startswith(PREFIX) and p.suffix in (SQLITE_SUFFIX, PG_SUFFIX))


# -- a node holds the lock while it runs -------------------------------------------------


@contextmanager
def node_lock(config):
    """Held by a running node: ``restore`` refuses while any process holds it."""
    path = _lock_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _node_running(runtime) -> str | None:
    """What shows that a node runs on this database, or None."""
    path = _lock_path(runtime.config)
    if path.exists():
        with open(path, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return "lock"
            fcntl.flock(handle, fcntl.LOCK_UN)
    if runtime.db.dialect == "postgresql":
        from sqlalchemy import text

        with runtime.db.engine.connect() as conn:
            others = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                )
            ).scalar()
        if others:
            return "connections"
    return None


# -- backup ------------------------------------------------------------------------------


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def backup(runtime, folder=None, keep: int | None = None) -> Path:
    """Write a consistent copy of the node's database into ``folder`` (default: the node's
    ``backup_dir``) and keep the newest ``keep`` (default ``backup_keep``); returns its path."""
    config = runtime.config
    folder = backup_folder(config, folder)
    keep = config.backup_keep if keep is None else keep
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupFailed(
            "Cannot write to the backup folder {folder}: {error}", folder=str(folder), error=exc.strerror
        ) from exc
    sqlite_file = sqlite_path(config.database_url)
    suffix = SQLITE_SUFFIX if sqlite_file else PG_SUFFIX
    target = folder / f"{PREFIX}{config.office_code}-{_stamp()}{suffix}"
    partial = target.with_name(target.name + ".partial")
    try:
        if sqlite_file:
            _backup_sqlite(sqlite_file, partial)
        else:
            _backup_postgres(config.database_url, partial)
        with open(partial, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
        _fsync_dir(folder)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BackupFailed(
            "Cannot write to the backup folder {folder}: {error}", folder=str(folder), error=exc.strerror
        ) from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    prune(folder, keep)
    log.info("backup written: %s", target)
    return target


def _backup_sqlite(source: Path, target: Path) -> None:
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # one read transaction: a snapshot of a single moment
        dst.execute("PRAGMA journal_mode=DELETE")  # the copy is one self-contained file
    finally:
        dst.close()
        src.close()
    problem = sqlite_problem(target, read_only=True)
    if problem is not None:  # a damaged database gives a damaged copy: never let it replace a good one
        raise BackupFailed("The database is damaged ({problem}); no backup was written.", problem=problem)


def _backup_postgres(database_url: str, target: Path) -> None:
    proc = subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", "--file", str(target), libpq_url(database_url)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise BackupFailed("pg_dump failed: {error}", error=_first_line(proc.stderr))


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:300]


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def prune(folder, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups in ``folder`` (at least one always stays)."""
    backups = list_backups(folder)
    removed = backups[: max(0, len(backups) - max(1, keep))]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


class BackupSchedule:
    """The worker's backups: one every ``backup_every_hours`` while ``backup_dir`` is set.

    When the newest backup in the folder is older than the interval (or there is none) a backup
    runs in a thread of its own, so timers and service tasks go on meanwhile.  A failed one
    (the USB disk not plugged in) is logged and tried again after a tenth of the interval."""

    def __init__(self, runtime):
        self.runtime = runtime
        self._thread: threading.Thread | None = None
        self._retry_at = 0.0
        self.last_error: str | None = None

    def due(self) -> bool:
        config = self.runtime.config
        if not config.backup_dir or config.backup_every_hours <= 0 or time.monotonic() < self._retry_at:
            return False
        backups = list_backups(config.backup_dir)
        if not backups:
            return True
        age = time.time() - backups[-1].stat().st_mtime
        return age >= config.backup_every_hours * 3600

    def tick(self) -> bool:
        """Start a backup if one is due and none is running; True when one was started."""
        if self._thread is not None and self._thread.is_alive():
            return False
        if not self.due():
            return False
        self._thread = threading.Thread(target=self._run, name="backup", daemon=True)
        self._thread.start()
        return True

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            backup(self.runtime)
            self.last_error = None
        except Exception as exc:
            self.last_error = str(exc)
            self._retry_at = time.monotonic() + self.runtime.config.backup_every_hours * 360
            log.warning("scheduled backup failed: %s", exc)


# -- start-up check ----------------------------------------------------------------------


def check_database(runtime) -> None:
    """Refuse a damaged SQLite database (``PRAGMA quick_check``) with what to do about it."""
    path = sqlite_path(runtime.config.database_url)
    if path is None or not path.exists():
        return
    problem = sqlite_problem(path)
    if problem is None:
        return
    backups = list_backups(runtime.config.backup_dir) if runtime.config.backup_dir else []
    latest = str(backups[-1]) if backups else "<backup file>"
    raise DatabaseDamaged(
        "The database {path} is damaged ({problem}). Simpul will not serve from it. Stop every Simpul "
        "program on this computer, then restore the latest backup: simpul restore {latest}",
        path=str(path),
        problem=problem,
        latest=latest,
    )


def sqlite_problem(path: Path, *, full: bool = False, read_only: bool = False) -> str | None:
    """None when ``path`` is a sound SQLite database, else the first problems found."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro" if read_only else str(path), uri=read_only, timeout=30)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        rows = conn.execute("PRAGMA integrity_check" if full else "PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        conn.close()
    messages = [r[0] for r in rows]
    return None if messages == ["ok"] else "; ".join(messages[:3])[:300]


# -- restore -----------------------------------------------------------------------------


def _known_revisions(runtime) -> dict[str, set]:
    from alembic.script import ScriptDirectory

    from .migrate import RETIRED_REVISIONS, alembic_config, plugin_migrations

    histories = {"alembic_version": {None, *RETIRED_REVISIONS}}
    scripts = ScriptDirectory.from_config(alembic_config())
    histories["alembic_version"] |= {r.revision for r in scripts.walk_revisions()}
    for plugin in plugin_migrations(runtime):
        scripts = ScriptDirectory.from_config(alembic_config(plugin=plugin))
        histories[plugin.version_table] = {r.revision for r in scripts.walk_revisions()}
    return histories


def _check_revisions(runtime, found: dict[str, list[str]], path: Path) -> None:
    if not found.get("alembic_version"):
        raise InvalidInput("{path} is not a Simpul backup (it has no Simpul schema revision).", path=str(path))
    known = _known_revisions(runtime)
    for table, revisions in found.items():
        unknown = [r for r in revisions if r not in known.get(table, set())]
        if unknown and table in known:
            raise InvalidInput(
                "{path} was made by a newer Simpul (schema revision {revision}); install that version to restore it.",
                path=str(path),
                revision=unknown[0],
            )


def inspect_sqlite_backup(runtime, path: Path, shown: Path | None = None) -> None:
    shown = shown or path
    problem = sqlite_problem(path, full=True)
    if problem is not None:
        raise InvalidInput(
            "{path} is damaged or not a database ({problem}); nothing was restored.", path=str(shown), problem=problem
        )
    conn = sqlite3.connect(path)
    try:
        query = "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'alembic_version%'"
        tables = [r[0] for r in conn.execute(query)]
        found = {t: [r[0] for r in conn.execute(f'SELECT version_num FROM "{t}"')] for t in tables}
    finally:
        conn.close()
    _check_revisions(runtime, found, shown)


def inspect_pg_backup(runtime, path: Path) -> None:
    listing = subprocess.run(["pg_restore", "--list", str(path)], capture_output=True, text=True)
    if listing.returncode != 0:
        raise InvalidInput(
            "{path} is damaged or not a database ({problem}); nothing was restored.",
            path=str(path),
            problem=_first_line(listing.stderr),
        )
    found: dict[str, list[str]] = {}
    for table in {line.split()[-2] for line in listing.stdout.splitlines() if " TABLE DATA " in line}:
        if not table.startswith("alembic_version"):
            continue
        data = subprocess.run(
            ["pg_restore", "--data-only", "--table", table, "-f", "-", str(path)], capture_output=True, text=True
        )
        rows, copying = [], False
        for line in data.stdout.splitlines():
            if line.startswith("COPY "):
                copying = True
            elif copying and line == "\\.":
                copying = False
            elif copying:
                rows.append(line.strip())
        found[table] = rows
    _check_revisions(runtime, found, path)


def restore(runtime, path) -> dict:
    """Check ``path`` and put it in place of the node's database (SQLite: the replaced file is
    kept beside it as ``*.before-restore-<time>``), then bring its schema up to date.  Every
    check runs before anything is touched: a refusal changes nothing."""
    from .migrate import upgrade

    path = Path(path)
    if not path.is_file():
        raise InvalidInput("{path} does not exist.", path=str(path))
    target = sqlite_path(runtime.config.database_url)
    with open(path, "rb") as handle:
        is_pg_file = handle.read(5) == b"PGDMP"
    if target is None:
        if not is_pg_file:
            raise InvalidInput("{path} is not a PostgreSQL backup of Simpul (made by simpul backup).", path=str(path))
        inspect_pg_backup(runtime, path)
        runtime.db.engine.dispose()  # this process's own idle connections are not another node
        _refuse_while_running(runtime)
        runtime.db.engine.dispose()
        _restore_postgres(runtime.config.database_url, path)
        kept = None
    else:
        if is_pg_file:
            raise InvalidInput("{path} is a PostgreSQL backup; this node runs on SQLite.", path=str(path))
        incoming = target.with_name(target.name + ".restoring")
        shutil.copyfile(path, incoming)  # checked as a copy: the file given is never opened for writing
        try:
            inspect_sqlite_backup(runtime, incoming, shown=path)
            _refuse_while_running(runtime)
        except BaseException:
            incoming.unlink(missing_ok=True)
            raise
        runtime.db.engine.dispose()
        kept = _swap_sqlite(incoming, target)
    runtime.db.engine.dispose()
    upgrade(runtime)
    database = str(target) if target else make_url(runtime.config.database_url).database
    return {"restored": str(path), "database": database, "kept": kept}


def _refuse_while_running(runtime) -> None:
    if _node_running(runtime):
        raise Conflict(
            "A Simpul node is running on this database. Stop it (simpul run, simpul worker), then restore again."
        )


def _swap_sqlite(incoming: Path, target: Path) -> str | None:
    with open(incoming, "rb") as handle:
        os.fsync(handle.fileno())
    kept = None
    if target.exists():
        kept = target.with_name(f"{target.name}.before-restore-{_stamp()}")
        for extra in ("-wal", "-shm"):  # the old file's log goes with it, never onto the new one
            side = Path(f"{target}{extra}")
            if side.exists():
                os.replace(side, f"{kept}{extra}")
        os.replace(target, kept)
    os.replace(incoming, target)
    _fsync_dir(target.parent)
    return str(kept) if kept else None


def _restore_postgres(database_url: str, path: Path) -> None:
    proc = subprocess.run(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            "--dbname",
            libpq_url(database_url),
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise BackupFailed("pg_restore failed: {error}", error=_first_line(proc.stderr))
