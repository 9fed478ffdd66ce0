"""Fixtures for the resident-facing plugin: a node (SQLite and PostgreSQL) with its web app,
one with the test regency's police-letter rule installed, and finished cases seeded with
known step times (so an expected date can be checked against arithmetic, not against itself)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from simpul.engine import deploy_bundled
from simpul.engine.models import Case, CaseEvent, ProcessVersion

from ..conftest import OFFICE, make_runtime, seed_offices
from ..web.conftest import set_passwords
from ..web.test_web_browser import chromium, live_server  # noqa: F401  (fixtures of the browser tests)
from ..web.web_helpers import PASSWORD

#: the steps of a handed-over new card, in order, with the days each took in the seed.
CARD_STEPS = (
    ("task_completed", "Task_document_check"),
    ("task_completed", "Task_residence_verification"),
    ("task_completed", "Task_biometric_recording"),
    ("service_completed", "Service_send_to_regency"),
    ("message_received", "card_printed"),
    ("task_completed", "Task_handover"),
)


@pytest.fixture(scope="session")
def password_hash() -> str:
    from argon2 import PasswordHasher

    return PasswordHasher().hash(PASSWORD)


@pytest.fixture
def app(runtime, password_hash):
    from simpul.web import create_app

    set_passwords(runtime, password_hash)
    return create_app(runtime=runtime, config={"TESTING": True})


@pytest.fixture
def police_runtime(db, tmp_path):
    from tests.plugin_samples import police_letter

    rt = make_runtime(db, tmp_path, extra_plugins=(police_letter,))
    seed_offices(rt)
    deploy_bundled(rt, deployed_by="test")
    yield rt
    rt.close()


def seed_finished(rt, count, days_per_step, *, ended_days_ago=1, process="ektp_new_card", office=OFFICE, start=1):
    """``count`` handed-over cases whose steps took ``days_per_step`` (one per CARD_STEPS)."""
    now = datetime.now(UTC)
    with rt.transaction() as uow:
        s = uow.session
        version = s.query(ProcessVersion).filter_by(process_key=process).order_by(ProcessVersion.version).first()
        for i in range(count):
            end = now - timedelta(days=ended_days_ago, minutes=i)
            begin = end - timedelta(days=sum(days_per_step))
            receipt = f"{office}-2025-{start + i:05d}"
            case = Case(
                receipt=receipt,
                office_code=office,
                process_key=process,
                process_version_id=version.id,
                resident_nik=f"6402054507{9000 + start + i:06d}",  # never a resident the tests apply for
                resident_name=f"Seed {i}",
                status="completed",
                correlation_key=receipt,
                data={},
                end_reason="Selesai",
                created_by="operator",
                created_at=begin,
                updated_at=end,
                ended_at=end,
            )
            s.add(case)
            s.flush()
            at = begin
            for (kind, step), days in zip(CARD_STEPS, days_per_step, strict=True):
                at = at + timedelta(days=days)
                s.add(CaseEvent(case_id=case.id, at=at, actor="operator", office_code=office, kind=kind, step=step))
