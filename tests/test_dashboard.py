"""The camat's dashboard, the monthly recap and the supervisor's hands, on both databases.

Cases are seeded through the real engine across weeks, with the clock set by the test; each
figure is checked against counts the test keeps itself."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from simpul import engine
from simpul.engine import Conflict, Forbidden, ValidationFailed, recap, supervision
from simpul.engine.models import Case

from .flows import (
    BIOMETRICS,
    DOCS_OK,
    VERIFIED,
    actor,
    complete,
    open_task,
    receive_and_hand_over,
    run_worker_until_quiet,
    start_new_card,
)

MONDAY = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Sangasanga (WITA)
REJECT = {"residence_verified": False, "rejection_reason": "alamat di luar kecamatan", "kelurahan_officer": "Budi"}


def print_at_regency(rt, receipt):
    printing = [t for t in engine.list_tasks(rt, actor(rt, "disdukcapil")) if t["step"] == "Task_regency_receive"]
    for task in printing:
        r = task["receipt"]
        complete(rt, r, "disdukcapil", {"data_complete": True})
        complete(rt, r, "disdukcapil", {"enrolment_result": "PRINT_READY_RECORD"})
        complete(rt, r, "disdukcapil", {"blank_in_stock": True})
        complete(rt, r, "disdukcapil", {"card_serial": f"KTP-{r}"})


def seed(rt, clock):
    """Two weeks of work in the office; returns what the test counted itself."""
    counted = {"started": [], "recorded": [], "sent": [], "printed": [], "handed_over": [], "rejected": []}
    # week 1 (2 March): three applications
    c1 = start_new_card(rt, 1)["receipt"]
    c2 = start_new_card(rt, 2, kelurahan="Sangasanga Muara")["receipt"]
    c3 = start_new_card(rt, 3)["receipt"]
    counted["started"] += [c1, c2, c3]
    clock.shift(timedelta(hours=2))
    complete(rt, c1, "operator", DOCS_OK)
    complete(rt, c2, "operator", DOCS_OK)
    complete(rt, c3, "operator2", DOCS_OK)
    clock.shift(timedelta(hours=5))
    complete(rt, c1, "verifier", VERIFIED)
    complete(rt, c2, "verifier", REJECT)
    counted["rejected"].append(c2)
    clock.shift(timedelta(days=1))
    complete(rt, c1, "operator", BIOMETRICS)
    counted["recorded"].append(c1)
    run_worker_until_quiet(rt)
    counted["sent"].append(c1)
    # week 2 (9 March): the card comes back after 8 days and is handed over
    clock.shift(timedelta(days=8))
    print_at_regency(rt, c1)
    run_worker_until_quiet(rt)
    counted["printed"].append(c1)
    clock.shift(timedelta(hours=3))
    receive_and_hand_over(rt, c1, "camat")
    counted["handed_over"].append(c1)
    c4 = start_new_card(rt, 4)["receipt"]
    c5 = start_new_card(rt, 5, kelurahan="Sangasanga Muara")["receipt"]
    counted["started"] += [c4, c5]
    task = open_task(rt, c5, "operator2")
    engine.claim_task(rt, task["id"], actor(rt, "operator2"))
    return counted, {"c1": c1, "c2": c2, "c3": c3, "c4": c4, "c5": c5, "claimed_task": task["id"]}


@pytest.fixture
def seeded(runtime):
    with time_machine.travel(MONDAY, tick=False) as clock:
        counted, cases = seed(runtime, clock)
        clock.move_to(MONDAY + timedelta(days=13, hours=8))  # Sunday of week 2
        yield runtime, counted, cases, clock


def receipts_of(rt, who, **figure):
    office = figure.pop("office", None)
    return sorted(c["receipt"] for c in engine.list_cases(rt, actor(rt, who), figure=figure, office=office, limit=1000))


def test_outcomes_are_distinct_in_the_case_and_the_list(seeded):
    rt, counted, cases, _clock = seeded
    camat = actor(rt, "camat")
    assert engine.get_case(rt, cases["c1"], camat)["outcome"] == "handed_over"
    rejected = engine.get_case(rt, cases["c2"], camat)
    assert rejected["outcome"] == "rejected" and rejected["end_reason"] == "Ditolak: data domisili tidak sesuai"
    assert [c["receipt"] for c in engine.list_cases(rt, camat, outcome="rejected")] == counted["rejected"]
    before = engine.stats.dashboard(rt, camat, since="2026-03-02", until="2026-03-15")["offices"][0]["flow"]
    engine.cancel_case(rt, cases["c4"], "pemohon pindah", camat)
    assert engine.get_case(rt, cases["c4"], camat)["outcome"] == "cancelled"
    after = engine.stats.dashboard(rt, camat, since="2026-03-02", until="2026-03-15")["offices"][0]["flow"]
    # one end, under its own outcome (not also as a completed case)
    assert after["outcomes"] == {**before["outcomes"], "cancelled": before["outcomes"].get("cancelled", 0) + 1}


def test_dashboard_figures_match_what_was_done(seeded):
    rt, counted, cases, _clock = seeded
    board = engine.stats.dashboard(rt, actor(rt, "camat"), since="2026-03-02", until="2026-03-15")
    (office,) = board["offices"]
    assert office["office"] == "640205"
    weeks = office["flow"]["weeks"]
    assert [w["week"] for w in weeks] == ["2026-03-02", "2026-03-09"]
    assert [w["started"] for w in weeks] == [3, 2]
    assert [w["rejected"] for w in weeks] == [1, 0]
    assert [w["recorded"] for w in weeks] == [1, 0] and [w["sent"] for w in weeks] == [1, 0]
    assert [w["printed"] for w in weeks] == [0, 1] and [w["handed_over"] for w in weeks] == [0, 1]
    for key, receipts in counted.items():
        assert office["flow"]["totals"][key] == len(receipts), key
        assert receipts_of(rt, "camat", milestone=key, since="2026-03-02", until="2026-03-15") == sorted(receipts)
    # the card waited 8 days at the regency: the turnaround and the bottleneck say so
    turnaround = office["flow"]["turnaround"]
    assert turnaround["count"] == 1 and 8 * 86400 <= turnaround["median_s"] < 9 * 86400
    bottleneck = office["flow"]["bottleneck"]
    assert bottleneck["step"] == "card_printed"
    assert receipts_of(rt, "camat", done_step="card_printed", since="2026-03-02", until="2026-03-15") == [cases["c1"]]
    times = {r["step"]: r for r in office["flow"]["step_times"]}
    assert times["Task_document_check"]["count"] == 3
    assert times["Task_document_check"]["median_s"] == 2 * 3600
    # now: open per step, incidents, the idle claimed task
    now = office["now"]
    open_steps = {(r["step"], r["role"]): r["open"] for r in now["open_by_step"]}
    assert open_steps == {("Task_residence_verification", "verifier"): 1, ("Task_document_check", "operator"): 2}
    assert receipts_of(rt, "camat", step="Task_document_check") == sorted([cases["c4"], cases["c5"]])
    # verification of c3 was due 3 days after 2 March 09:00 + 2 h; document checks of week 2 too
    overdue = {r["step"]: r["overdue"] for r in now["open_by_step"]}
    assert overdue["Task_residence_verification"] == 1
    assert receipts_of(rt, "camat", step="Task_residence_verification", overdue=1) == [cases["c3"]]
    assert now["incidents"] == 0
    assert [i["task_id"] for i in now["idle_claimed"]] == [cases["claimed_task"]]
    # people: completed per person per week, open claimed per person; ordered by name
    people = {p["username"]: p for p in office["people"]}
    assert people["operator"]["completed"] == [3, 0]  # two checks, one recording
    assert people["operator2"]["completed"] == [1, 0] and people["operator2"]["open"] == 1
    assert people["camat"]["completed"] == [0, 2]  # the card's arrival, then its handover
    assert receipts_of(rt, "camat", actor="operator", since="2026-03-02", until="2026-03-08") == sorted(
        [cases["c1"], cases["c2"]]
    )


def test_office_isolation_and_the_regency_side_by_side(seeded):
    rt, _counted, cases, _clock = seeded
    other = engine.stats.dashboard(rt, actor(rt, "other"), since="2026-03-02", until="2026-03-15")
    assert [o["office"] for o in other["offices"]] == ["640206"]
    assert other["offices"][0]["flow"]["totals"]["started"] == 0
    assert receipts_of(rt, "other", milestone="started", since="2026-03-02", until="2026-03-15") == []
    with pytest.raises(engine.NotFound):
        receipts_of(rt, "other", milestone="started", since="2026-03-02", until="2026-03-15", office="640205")
    with pytest.raises(engine.NotFound):
        engine.list_cases(rt, actor(rt, "other"), office="640205")
    assert len(engine.list_cases(rt, actor(rt, "disdukcapil"), status="open", office="640205")) == 3
    regency = engine.stats.dashboard(rt, actor(rt, "disdukcapil"), since="2026-03-02", until="2026-03-15")
    assert [o["office"] for o in regency["offices"]] == ["640205", "640206"]
    assert [o["flow"]["totals"]["started"] for o in regency["offices"]] == [5, 0]
    assert (
        len(
            receipts_of(rt, "disdukcapil", milestone="started", since="2026-03-02", until="2026-03-15", office="640205")
        )
        == 5
    )
    with pytest.raises(Forbidden):
        engine.stats.dashboard(rt, actor(rt, "operator"))


def test_monthly_recap_per_kelurahan_and_in_files(seeded):
    rt, counted, _cases, _clock = seeded
    result = recap.monthly_recap(rt, actor(rt, "camat"), "2026-03")
    assert result["applications"] == len(counted["started"]) == 5
    for key in ("recorded", "sent", "printed", "handed_over", "rejected"):
        assert result[key] == len(counted[key]), key
    assert result["open_at_end"] == 3  # c3, c4, c5
    kel = {r["kelurahan"]: r for r in result["by_kelurahan"]}
    assert kel["Sangasanga Muara"]["applications"] == 2 and kel["Sangasanga Muara"]["rejected"] == 1
    assert kel["Sangasanga Dalam"]["applications"] == 3 and kel["Sangasanga Dalam"]["handed_over"] == 1
    assert result["rejected_by_reason"] == [{"reason": "Ditolak: data domisili tidak sesuai", "count": 1}]
    assert result["applications_by_procedure"] == {"ektp_new_card": 5}
    assert recap.monthly_recap(rt, actor(rt, "camat"), "2026-02")["applications"] == 0

    import io

    from openpyxl import load_workbook
    from pypdf import PdfReader

    book = load_workbook(io.BytesIO(recap.recap_xlsx(result, {})))
    rows = list(book.active.iter_rows(values_only=True))
    total = next(r for r in rows if r and r[0] == "Total")
    assert list(total[1:]) == [result[c] for c in recap.COLUMNS]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(recap.recap_pdf(result, {}))).pages)
    assert "Sangasanga Muara" in text and "Total" in text
    assert " ".join(str(result[c]) for c in recap.COLUMNS) in " ".join(text.split())


def test_release_and_reassign_a_claimed_task(seeded):
    rt, _counted, cases, _clock = seeded
    task_id = cases["claimed_task"]
    with pytest.raises(Forbidden):
        supervision.release_task(rt, task_id, "sakit", actor(rt, "operator"))
    with pytest.raises(ValidationFailed):
        supervision.release_task(rt, task_id, "  ", actor(rt, "camat"))
    with pytest.raises(engine.NotFound):
        supervision.release_task(rt, task_id, "sakit", actor(rt, "other"))
    released = supervision.release_task(rt, task_id, "operator2 sakit hari ini", actor(rt, "camat"))
    assert released["assignee"] is None
    events = engine.get_case(rt, cases["c5"], actor(rt, "camat"))["events"]
    assert events[-1]["kind"] == "task_released" and events[-1]["detail"] == "operator2 sakit hari ini"
    assert events[-1]["actor"] == "camat" and events[-1]["before"] == {"assignee": "operator2"}
    with pytest.raises(Conflict):
        supervision.release_task(rt, task_id, "lagi", actor(rt, "camat"))
    with pytest.raises(ValidationFailed):
        supervision.reassign_task(rt, task_id, "verifier", "ganti", actor(rt, "camat"))  # no operator role
    moved = supervision.reassign_task(rt, task_id, "op1", "op1 bertugas", actor(rt, "camat"))
    assert moved["assignee"] == "op1"


def test_reopen_a_wrong_rejection_returns_to_verification(seeded):
    rt, _counted, cases, clock = seeded
    camat = actor(rt, "camat")
    with pytest.raises(Conflict):
        supervision.reopen_case(rt, cases["c1"], "salah", camat)  # handed over, not rejected
    with pytest.raises(Forbidden):
        supervision.reopen_case(rt, cases["c2"], "salah", actor(rt, "verifier"))
    reopened = supervision.reopen_case(rt, cases["c2"], "alamat ternyata benar", camat)
    assert reopened["status"] == "active"
    assert [t["step"] for t in reopened["open_tasks"]] == ["Task_residence_verification"]
    case = engine.get_case(rt, cases["c2"], camat)
    assert case["outcome"] is None and case["end_reason"] is None
    last = case["events"][-1]
    assert (last["kind"], last["actor"], last["detail"]) == ("case_reopened", "camat", "alamat ternyata benar")
    done = complete(rt, cases["c2"], "verifier", VERIFIED)
    assert [t["step"] for t in done["open_tasks"]] == ["Task_biometric_recording"]


def test_reopen_only_within_the_period(seeded):
    rt, _counted, cases, clock = seeded
    clock.move_to(MONDAY + timedelta(days=32))
    with pytest.raises(Conflict, match="30 days"):
        supervision.reopen_case(rt, cases["c2"], "terlambat", actor(rt, "camat"))
    with rt.read() as s:
        assert s.scalar(select(Case.outcome).where(Case.receipt == cases["c2"])) == "rejected"


def test_move_back_an_open_case(seeded):
    rt, _counted, cases, _clock = seeded
    camat = actor(rt, "camat")
    result = supervision.move_back(rt, cases["c3"], "Task_document_check", "berkas KK salah", camat)
    assert [t["step"] for t in result["open_tasks"]] == ["Task_document_check"]
    with pytest.raises(ValidationFailed):
        supervision.move_back(rt, cases["c4"], "Task_handover", "tidak pernah", camat)


def test_deploy_refuses_an_end_event_without_a_known_outcome(runtime):
    from .bpmn_samples import script_process

    good = script_process("x = 1")
    engine.check_process(runtime, good)
    missing = re.sub(r'<spiffworkflow:property name="outcome" value="completed"/>', "", good)
    assert missing != good
    with pytest.raises(engine.DeployError) as err:
        engine.check_process(runtime, missing)
    assert any(e["element"] == "end" and "no outcome" in e["message"] for e in err.value.errors)
    unknown = good.replace('value="completed"', 'value="delivered-ish"')
    with pytest.raises(engine.DeployError) as err:
        engine.check_process(runtime, unknown)
    assert any("unknown outcome" in e["message"] for e in err.value.errors)


def test_every_bundled_end_event_has_an_outcome():
    from lxml import etree

    from simpul.engine import outcomes, resources

    for name in ("ektp_new_card", "ektp_renewal", "ektp_replacement", "ektp_regency_printing"):
        root = etree.fromstring((resources.PROCESSES_DIR / f"{name}.bpmn").read_bytes())
        found = outcomes.end_event_outcomes(root)
        assert found and all(v in outcomes.OUTCOMES for v, _name in found.values()), name


def test_a_task_cannot_be_given_to_someone_outside_the_office_and_the_camat_hears_why(seeded):
    rt, _counted, cases, _clock = seeded
    task_id = cases["claimed_task"]
    camat = actor(rt, "camat")
    for nobody in ("nobody", "other"):  # no such user; a clerk of Muara Jawa
        with pytest.raises(ValidationFailed) as refused:
            supervision.reassign_task(rt, task_id, nobody, "ganti", camat)
        assert refused.value.render() == "Some fields need attention."
        assert refused.value.render(catalogue=rt.translations("id")) == "Beberapa isian perlu diperbaiki."
        assert [str(m) for m in refused.value.errors["username"]] == [
            "No active colleague of this office by that name."
        ]


def test_biometrics_recorded_again_after_an_enrolment_problem_count_as_recorded(runtime):
    """A replacement whose enrolment failed at the regency is recorded again at the office:
    that re-recording is the case's "recorded" on the dashboard, like a first recording."""
    from .flows import all_documents, resident

    camat = actor(runtime, "camat")
    with time_machine.travel(MONDAY, tick=False):
        receipt = engine.start_case(
            runtime, "ektp_replacement", resident(3, reason="damaged"), actor(runtime, "operator")
        )["receipt"]
        task = open_task(runtime, receipt, "operator")
        complete(runtime, receipt, "operator", all_documents(runtime, task))
        complete(runtime, receipt, "operator", {"identity_matched": True})
        run_worker_until_quiet(runtime)  # sent to the regency, which finds the enrolment failed
        engine.deliver_message(
            runtime,
            "enrolment_problem",
            receipt,
            {"enrolment_result": "ENROLL_FAILURE_AT_CENTRAL"},
            engine.Actor.system(),
        )
        complete(runtime, receipt, "operator", {"resolution": "record_again", "resolution_notes": "Sidik jari buram"})
        assert open_task(runtime, receipt, "operator")["step"] == "Task_rerecord_biometric"
        before = engine.stats.dashboard(runtime, camat, since="2026-03-02", until="2026-03-08")
        complete(runtime, receipt, "operator", BIOMETRICS, step="Task_rerecord_biometric")
        after = engine.stats.dashboard(runtime, camat, since="2026-03-02", until="2026-03-08")
    assert before["offices"][0]["flow"]["totals"]["recorded"] == 0
    assert after["offices"][0]["flow"]["totals"]["recorded"] == 1
    assert receipts_of(runtime, "camat", milestone="recorded", since="2026-03-02", until="2026-03-08") == [receipt]


def test_the_monthly_recap_tells_how_long_the_open_cases_have_waited(seeded):
    """On 15 March the case started on 2 March has waited 13 days, the two started on
    11 March four: the recap's open-case ages put each in its band once."""
    rt, _counted, _cases, _clock = seeded
    result = recap.monthly_recap(rt, actor(rt, "camat"), "2026-03")
    assert [(b["from"], b["to"], b["count"]) for b in result["open_age_days"]] == [
        (0, 7, 2),
        (8, 14, 1),
        (15, 30, 0),
        (31, None, 0),
    ]


def test_moving_a_case_back_to_a_step_it_never_passed_says_so_in_indonesian(seeded):
    rt, _counted, cases, _clock = seeded
    with pytest.raises(ValidationFailed) as refused:
        supervision.move_back(rt, cases["c4"], "Task_handover", "tidak pernah", actor(rt, "camat"))
    (message,) = refused.value.errors["step"]
    assert rt.translations("id").gettext(str(message)) == "Permohonan ini belum melewati langkah ini."
