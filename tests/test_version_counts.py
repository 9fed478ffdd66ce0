"""The case counts of the process administration list are kept as cases start, end and are
cancelled -- and always equal a recount of the cases."""

from __future__ import annotations

from alembic import command
from sqlalchemy import case, func, select

from simpul import engine
from simpul.engine import drafts
from simpul.engine.migrate import alembic_config, upgrade
from simpul.engine.models import Case

from .flows import DOCS_OK, actor, complete, printed_case, receive_and_hand_over, start_new_card


def listed(rt) -> dict:
    overview = drafts.process_overview(rt, actor(rt, "admin"))
    return {v["id"]: (v["cases"], v["open_cases"]) for p in overview for v in p["versions"] if v["cases"]}


def recount(rt) -> dict:
    with rt.read() as s:
        rows = s.execute(
            select(
                Case.process_version_id,
                func.count(),
                func.sum(case((Case.status.in_(("active", "incident")), 1), else_=0)),
            ).group_by(Case.process_version_id)
        ).all()
    return {vid: (n, int(o or 0)) for vid, n, o in rows}


def test_counts_follow_starts_ends_and_cancellations_and_the_migration_counts_existing_cases(runtime):
    with runtime.transaction() as uow:
        engine.directory.create_user(uow.session, "admin", "Admin", "640205", ["system_admin", "process_admin"])
    receive_and_hand_over(runtime, printed_case(runtime, 1))  # finished, with its regency case
    second = start_new_card(runtime, 2)["receipt"]
    complete(runtime, second, "operator", DOCS_OK)
    third = start_new_card(runtime, 3)["receipt"]
    engine.cancel_case(runtime, third, "Pindah domisili", actor(runtime, "camat"))
    counts = listed(runtime)
    assert counts == recount(runtime)
    assert sorted(counts.values()) == [(1, 0), (3, 1)]  # the regency's printing; three new cards, one open
    with runtime.db.engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "scale2_0003_slim_cases")
    upgrade(runtime)
    assert listed(runtime) == counts
