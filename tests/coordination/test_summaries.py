"""The coordination status from per-peer summaries, and sent messages pruned after their
retention: the summaries equal a recount of the outbox whoever wrote it, a pruned message
keeps its id, and a message re-sent after the prune is still applied only once."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import func, select

from simpul import engine
from simpul.engine import worker
from simpul.engine.models import Case, InboxReceipt, Job, OutboxMessage, SentMessageId
from simpul.plugins.coordination import protocol as p
from simpul.plugins.coordination.inbox import apply_envelope
from simpul.plugins.coordination.models import PeerSummary
from simpul.plugins.coordination.status import coordination_status, discard_message, prune_sent
from simpul.plugins.coordination.transport import envelope

from ..conftest import OFFICE, REGENCY, make_runtime, seed_offices
from ..flows import BIOMETRICS, DOCS_OK, VERIFIED, complete, printed_case, run_worker_until_quiet, start_new_card


def recount(rt) -> dict:
    """The summaries as a scan of every row would give them (``sent`` counts pruned ones too)."""
    with rt.read() as s:
        counts: dict = {}
        for office, status, n, last in s.execute(
            select(
                OutboxMessage.destination_office, OutboxMessage.status, func.count(), func.max(OutboxMessage.sent_at)
            ).group_by(OutboxMessage.destination_office, OutboxMessage.status)
        ):
            row = counts.setdefault(office, {"waiting": 0, "sent": 0, "discarded": 0, "last_sent_at": None})
            row[{"pending": "waiting"}.get(status, status)] = n
            if status == "sent":
                row["last_sent_at"] = last
        for office, n, last in s.execute(
            select(InboxReceipt.source_office, func.count(), func.max(InboxReceipt.received_at)).group_by(
                InboxReceipt.source_office
            )
        ):
            counts.setdefault(office, {"waiting": 0, "sent": 0, "discarded": 0, "last_sent_at": None}).update(
                received=n, last_received_at=last
            )
        return {office: {"received": 0, "last_received_at": None, **row} for office, row in counts.items()}


def summaries(rt) -> dict:
    with rt.read() as s:
        return {
            r.office_code: {
                "waiting": r.waiting,
                "sent": r.sent,
                "discarded": r.discarded,
                "last_sent_at": r.last_sent_at,
                "received": r.received,
                "last_received_at": r.last_received_at,
            }
            for r in s.scalars(select(PeerSummary))
        }


def to_regency(rt, n):
    """A new card recorded and queued for the regency: the service task ran, the message waits."""
    receipt = start_new_card(rt, n)["receipt"]
    complete(rt, receipt, "operator", DOCS_OK)
    complete(rt, receipt, "verifier", VERIFIED)
    complete(rt, receipt, "operator", BIOMETRICS)
    with rt.read() as s:
        jobs = s.scalars(select(Job.id).where(Job.status == "pending")).all()
    for job_id in jobs:
        worker.run_job(rt, job_id)
    return receipt


def test_summaries_follow_every_write_and_equal_a_recount(runtime):
    printed_case(runtime, 1)  # a message to the regency and its answer back, both applied here
    to_regency(runtime, 2)
    to_regency(runtime, 3)  # two waiting: the worker has not run
    assert summaries(runtime) == recount(runtime)
    assert summaries(runtime)[REGENCY]["waiting"] == 2 and summaries(runtime)[OFFICE]["sent"] == 1
    status = coordination_status(runtime)
    assert status["waiting"] == 2
    assert {peer["office"]: peer["waiting"] for peer in status["peers"]}[REGENCY] == 2
    with runtime.read() as s:
        waiting = s.scalar(select(OutboxMessage.message_id).where(OutboxMessage.status == "pending"))
    discard_message(runtime, waiting, "Dikirim ulang lewat kurir", "admin")
    run_worker_until_quiet(runtime)
    assert summaries(runtime) == recount(runtime)
    assert summaries(runtime)[REGENCY]["waiting"] == 0 and summaries(runtime)[REGENCY]["discarded"] == 1
    assert coordination_status(runtime)["waiting"] == 0


def test_pruned_messages_keep_their_ids_and_a_resent_one_is_applied_once(runtime, monkeypatch):
    printed_case(runtime, 1)
    with runtime.read() as s:
        sent = [(m.message_id, envelope(m.__dict__)) for m in s.scalars(select(OutboxMessage))]
        regency_cases = s.scalar(select(func.count()).select_from(Case).where(Case.office_code == REGENCY))
    assert len(sent) == 2 and regency_cases == 1
    before = summaries(runtime)
    assert prune_sent(runtime) == 0  # within the retention period (30 days): kept
    runtime.config.settings.setdefault("coordination", {})["sent_retention"] = 0
    assert prune_sent(runtime) == 2
    with runtime.read() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert set(s.scalars(select(SentMessageId.message_id))) == {m for m, _ in sent}
    assert summaries(runtime) == before  # sent stays counted; last contact stays known
    assert all(engine.was_sent(runtime, m) for m, _ in sent)
    for _message_id, env in sent:  # the same messages arrive again (a resend after a lost answer)
        result = apply_envelope(runtime, env, env["source_office"], env["destination_office"])
        assert result["status"] == p.DUPLICATE, result
    with runtime.read() as s:
        assert s.scalar(select(func.count()).select_from(Case).where(Case.office_code == REGENCY)) == 1


def test_migration_counts_the_outbox_already_there(db, tmp_path):
    rt = make_runtime(db, tmp_path)
    seed_offices(rt)
    engine.deploy_bundled(rt)
    printed_case(rt, 1)
    to_regency(rt, 2)
    expected = recount(rt)
    with rt.db.engine.begin() as conn:  # back to a plugin history without the summaries
        from simpul.engine.migrate import plugin_migrations

        coordination = next(m for m in plugin_migrations(rt) if m.name == "coordination")
        conn.execute(sa.text(f"UPDATE {coordination.version_table} SET version_num = 'coordination_0001_peers'"))
        conn.execute(sa.text("DELETE FROM coordination_peer_summaries"))
    from simpul.engine.migrate import upgrade

    upgrade(rt)
    assert summaries(rt) == expected and expected[REGENCY]["waiting"] == 1
    rt.close()
