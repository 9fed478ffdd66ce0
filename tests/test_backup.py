"""The office PC: backups while the node runs, a damaged database refused at start-up, and
restoring a backup (refused, changing nothing, when the file is not a sound Simpul backup)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from simpul import engine
from simpul.engine import Config, Conflict, InvalidInput, backup
from simpul.engine import worker as node_worker
from simpul.engine.migrate import current_heads, head_revisions
from simpul.engine.models import Case, CaseEvent

from .conftest import OFFICE, REGENCY, make_runtime, migrated_pg_databases, require_postgres, seed_offices
from .flows import actor, start_new_card, step_data

ROOT = Path(__file__).resolve().parent.parent
SIMPUL = str(Path(sys.executable).with_name("simpul"))


@pytest.fixture(params=["sqlite", "postgresql"])
def own_db(request, tmp_path, sqlite_template):
    """A migrated database of each kind that only this test uses (restore replaces it whole)."""
    if request.param == "sqlite":
        path = tmp_path / "node" / "simpul.db"
        path.parent.mkdir()
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    require_postgres()
    with migrated_pg_databases("hardening2") as (url,):
        yield url


@pytest.fixture
def node(own_db, tmp_path):
    rt = make_runtime(own_db, tmp_path, backup_dir=str(tmp_path / "usb"))
    seed_offices(rt)
    engine.deploy_bundled(rt, deployed_by="test")
    yield rt
    rt.close()


def _wait_for(predicate, what: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _acks(path: Path) -> list[dict]:
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines[:-1] + ([lines[-1]] if lines and lines[-1].endswith("}") else [])]


def _fingerprint(rt) -> tuple:
    with rt.read() as s:
        return (
            s.scalar(select(func.count()).select_from(Case)),
            s.scalar(select(func.count()).select_from(CaseEvent)),
            tuple(s.scalars(select(Case.receipt).order_by(Case.id))),
        )


def _env(rt, **extra) -> dict:
    env = {
        **os.environ,
        "SIMPUL_DATABASE_URL": rt.config.database_url,
        "SIMPUL_INSTANCE_PATH": str(rt.config.instance_path),
        "SIMPUL_OFFICE_CODE": OFFICE,
        "SIMPUL_REGENCY_CODE": REGENCY,
        "SIMPUL_SANDBOX_WORKERS": "0",
        **extra,
    }
    env.pop("SIMPUL_PLUGINS", None)
    return env


@pytest.mark.slow
def test_a_backup_taken_while_cases_are_worked_restores_every_acknowledged_step(node, tmp_path):
    ack_path = tmp_path / "acks.jsonl"
    driver = subprocess.Popen(
        [sys.executable, "-m", "tests.durability_driver", node.config.database_url, str(ack_path), "1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert driver.stdout.readline().strip() == "ready", driver.stderr.read()
        # the load is under way: cases started and steps completed, each acknowledged after commit
        _wait_for(lambda: sum(a["kind"] == "complete" for a in _acks(ack_path)) >= 10, "completed steps")
        acknowledged = _acks(ack_path)  # everything confirmed before the backup began
        path = backup.backup(node)
        during = _acks(ack_path)
        # the driver went on writing after the backup's snapshot: the copy is of a node at work
        _wait_for(lambda: len(_acks(ack_path)) > len(during) + 3, "steps after the backup")
        assert driver.poll() is None, driver.stderr.read()
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait(30)
    assert path.exists() and path.parent == tmp_path / "usb"

    node.close()
    restored = make_runtime(node.config.database_url, tmp_path)
    _wait_for(lambda: not backup._node_running(restored), "the killed driver's connections to close", 30)
    result = backup.restore(restored, path)
    assert result["restored"] == str(path)
    with restored.read() as s:
        completed = dict(
            s.execute(
                select(CaseEvent.task_id, func.count())
                .where(CaseEvent.kind == "task_completed")
                .group_by(CaseEvent.task_id)
            ).all()
        )
        receipts = set(s.scalars(select(Case.receipt)))
    lost = [a for a in acknowledged if a["kind"] == "complete" and a["task"] not in completed]
    assert not lost, f"acknowledged steps missing from the backup: {lost[:3]}"
    assert {a["receipt"] for a in acknowledged if a["kind"] == "start"} <= receipts
    assert all(n == 1 for n in completed.values())
    # the restored node works: an open case goes on from where the backup left it
    users = {name: actor(restored, name) for name in ("operator", "verifier", "disdukcapil")}
    open_tasks = [t for who in users.values() for t in engine.list_tasks(restored, who)]
    assert open_tasks
    who, data = step_data(restored, open_tasks[0]["step"])
    done = engine.complete_task(restored, open_tasks[0]["id"], data, users[who])
    assert done["receipt"] == open_tasks[0]["receipt"]
    restored.close()


def test_backups_keep_the_newest_n_and_leave_other_files_alone(node, tmp_path):
    usb = tmp_path / "usb"
    usb.mkdir()
    (usb / "photos.zip").write_bytes(b"not ours")
    made = [backup.backup(node, keep=2) for _ in range(4)]
    assert backup.list_backups(usb) == made[-2:]
    assert (usb / "photos.zip").read_bytes() == b"not ours"
    assert not list(usb.glob("*.partial"))
    backup.backup(node, keep=3)
    assert len(backup.list_backups(usb)) == 3


def test_the_worker_takes_a_backup_on_the_schedule_the_office_set(sqlite_db, tmp_path):
    rt = make_runtime(
        sqlite_db,
        tmp_path,
        backup_dir=str(tmp_path / "usb"),
        backup_every_hours=24,
        backup_keep=2,
        worker_poll_seconds=0.1,
    )
    seed_offices(rt)
    stop = threading.Event()
    worker = threading.Thread(target=node_worker.run_forever, args=(rt, stop), daemon=True)
    worker.start()
    try:
        first = _wait_for(lambda: backup.list_backups(tmp_path / "usb"), "the first scheduled backup")
    finally:
        stop.set()
        rt.wakeup.notify_local()
        worker.join(30)
    assert len(first) == 1
    schedule = backup.BackupSchedule(rt)
    assert not schedule.tick(), "a fresh backup is not repeated before the interval"
    day_ago = time.time() - 25 * 3600
    os.utime(first[0], (day_ago, day_ago))
    assert schedule.tick()
    schedule.join(60)
    assert len(backup.list_backups(tmp_path / "usb")) == 2
    # no folder set: the worker takes none
    rt.config.backup_dir = ""
    assert not backup.BackupSchedule(rt).tick()
    rt.close()


def _flip_bytes(path: Path) -> None:
    """What a power cut can do to a disk: page headers overwritten across the file."""
    data = bytearray(path.read_bytes())
    for page in range(2, len(data) // 4096, 3):
        data[(page - 1) * 4096] ^= 0xFF
    path.write_bytes(data)


def test_a_damaged_database_is_refused_at_start_up_with_what_to_do(sqlite_db, tmp_path):
    from simpul.web import create_app

    usb = tmp_path / "usb"
    rt = make_runtime(sqlite_db, tmp_path, backup_dir=str(usb))
    seed_offices(rt)
    engine.deploy_bundled(rt, deployed_by="test")
    latest = backup.backup(rt)
    rt.close()
    path = Path(sqlite_db.removeprefix("sqlite:///"))
    _flip_bytes(path)

    damaged = make_runtime(sqlite_db, tmp_path, backup_dir=str(usb))
    with pytest.raises(backup.DatabaseDamaged) as refused:
        create_app(runtime=damaged)
    assert f"simpul restore {latest}" in str(refused.value)
    damaged.close()

    env = _env(damaged, SIMPUL_BACKUP_DIR=str(usb))
    for command, locale, words in (
        (["worker"], "id", "rusak"),
        (["run", "--port", "23017"], "en", "damaged"),
    ):
        proc = subprocess.run(
            [SIMPUL, *command], env={**env, "SIMPUL_LOCALE": locale}, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode != 0
        assert words in proc.stderr and f"simpul restore {latest}" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


def test_restore_refuses_a_file_that_is_not_a_sound_simpul_backup_and_changes_nothing(node, tmp_path):
    start_new_card(node, 1)
    good = backup.backup(node)
    before = _fingerprint(node)
    files = tmp_path / "files"
    files.mkdir()
    junk = files / "junk.db"
    junk.write_bytes(os.urandom(8192))
    foreign = files / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE songs (title TEXT)")
    candidates = [junk, foreign, files / "missing.db"]
    if node.db.dialect == "sqlite":
        damaged = files / "damaged.db"
        shutil.copy(good, damaged)
        _flip_bytes(damaged)
        newer = files / "newer.db"
        shutil.copy(good, newer)
        with sqlite3.connect(newer) as conn:
            conn.execute("UPDATE alembic_version SET version_num = 'zz_9999_from_the_future'")
        candidates += [damaged, newer]
        db_file = Path(node.config.database_url.removeprefix("sqlite:///"))
        db_hash = hashlib.sha256(db_file.read_bytes()).hexdigest()
    else:
        truncated = files / "truncated.pgdump"
        truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
        candidates += [truncated, _newer_pg_dump(node, files)]
    for candidate in candidates:
        with pytest.raises(InvalidInput) as refused:
            backup.restore(node, candidate)
        assert str(candidate) in str(refused.value)
        assert _fingerprint(node) == before, candidate
    if node.db.dialect == "sqlite":
        assert hashlib.sha256(db_file.read_bytes()).hexdigest() == db_hash
        assert not list(db_file.parent.glob("*.restoring"))
    # and the good one restores
    assert backup.restore(node, good)["restored"] == str(good)
    assert _fingerprint(node) == before


def _newer_pg_dump(rt, folder: Path) -> Path:
    """A dump of a database a newer Simpul migrated (a schema revision this one lacks)."""
    with migrated_pg_databases("hardening2newer") as (url,):
        engine_ = sa.create_engine(url)
        with engine_.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = 'zz_9999_from_the_future'"))
        engine_.dispose()
        other = make_runtime(url, folder / "other")
        path = backup.backup(other, folder / "newer")
        other.close()
    return path


def test_restore_is_refused_while_a_node_runs_on_the_database(node, tmp_path):
    good = backup.backup(node)
    start_new_card(node, 2)
    before = _fingerprint(node)
    worker = subprocess.Popen(
        [SIMPUL, "worker"], env=_env(node), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert "worker running" in worker.stdout.readline(), worker.stderr.read()
        with pytest.raises(Conflict) as refused:
            backup.restore(node, good)
        assert "running" in str(refused.value)
        assert _fingerprint(node) == before
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    node.db.engine.dispose()
    _wait_for(lambda: not backup._node_running(node), "the stopped worker's connections to close", 30)
    backup.restore(node, good)
    assert _fingerprint(node)[0] == before[0] - 1  # the case started after the backup is gone


def test_restore_upgrades_a_backup_of_an_older_schema(tmp_path):
    older = tmp_path / "older.db"
    rt = make_runtime(f"sqlite:///{older}", tmp_path / "a")
    from simpul.engine.migrate import upgrade

    upgrade(rt, "hardening_0007_sessions")  # the revision before the current head
    rt.close()
    target = tmp_path / "node" / "simpul.db"
    target.parent.mkdir()
    node = make_runtime(f"sqlite:///{target}", tmp_path / "b")
    upgrade(node)
    backup.restore(node, older)
    assert set(current_heads(node)) == set(head_revisions())
    node.close()


def test_simpul_backup_and_restore_on_the_command_line(node, tmp_path):
    env = _env(node)
    made = subprocess.run(
        [SIMPUL, "backup", "--to", str(tmp_path / "stick"), "--keep", "1", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    path = Path(json.loads(made.stdout)["backup"])
    assert path.parent == tmp_path / "stick" and path.exists()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\x00" * 5000)
    refused = subprocess.run(
        [SIMPUL, "restore", str(junk)], env={**env, "SIMPUL_LOCALE": "id"}, capture_output=True, text=True
    )
    said = "tidak ada yang dipulihkan" if node.db.dialect == "sqlite" else "bukan cadangan PostgreSQL dari Simpul"
    assert refused.returncode == 1 and said in refused.stderr, refused.stderr
    node.db.engine.dispose()  # this test's own connections would count as a node running
    done = subprocess.run([SIMPUL, "restore", str(path), "--json"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["restored"] == str(path)
    no_folder = subprocess.run([SIMPUL, "backup"], env=env, capture_output=True, text=True)
    assert no_folder.returncode == 1 and "SIMPUL_BACKUP_DIR" in no_folder.stderr


def test_config_reads_the_backup_settings_from_the_environment():
    config = Config.from_env(
        {"SIMPUL_BACKUP_DIR": "/media/usb", "SIMPUL_BACKUP_EVERY_HOURS": "6", "SIMPUL_BACKUP_KEEP": "14"}
    )
    assert (config.backup_dir, config.backup_every_hours, config.backup_keep) == ("/media/usb", 6.0, 14)


def test_a_node_on_postgresql_takes_its_lock_in_an_instance_folder_not_made_yet(tmp_path):
    """``simpul run`` on PostgreSQL before anything wrote the instance folder (a fresh install
    at /srv/...): the node starts, its lock made with the folders, and a restore sees it."""
    instance = tmp_path / "srv" / "simpul" / "instance"
    config = Config(instance_path=instance, database_url="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    with backup.node_lock(config):
        assert (instance / "node.lock").is_file()


def test_restoring_a_damaged_file_tells_the_operator_in_indonesian_that_nothing_was_restored(sqlite_db, tmp_path):
    rt = make_runtime(sqlite_db, tmp_path)
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(8192))
    with pytest.raises(InvalidInput) as refused:
        backup.restore(rt, junk)
    said = refused.value.render(catalogue=rt.translations("id"))
    assert said.startswith(f"{junk} rusak atau bukan basis data (") and said.endswith("tidak ada yang dipulihkan.")
    rt.close()
