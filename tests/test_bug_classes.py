"""One test per kind of one-line bug the mutation run found passing the whole test set
(issue 15): each fails when its bug is put back (``scripts/bug_classes.py`` does that, one
bug at a time, and says which test caught it)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from simpul import engine
from simpul.engine import Conflict, NotFound, ValidationFailed, backoff, directory
from simpul.engine.documents import check_content, max_upload_bytes
from simpul.engine.inbox import inbox
from simpul.engine.models import Case, Job, utcnow

from .bpmn_samples import HEAD
from .conftest import REGENCY
from .flows import (
    BIOMETRICS,
    DOCS_OK,
    VERIFIED,
    actor,
    all_documents,
    complete,
    open_task,
    resident,
    run_worker_until_quiet,
    start_new_card,
)

# -- office filtering is by the office's code, never by a prefix of it -----------------------


def test_a_regency_clerk_with_the_same_roles_sees_nothing_of_a_kecamatan(runtime):
    """6402 is a prefix of 640205: a regency user must still not see the kecamatan's cases."""
    with runtime.transaction() as uow:
        directory.create_user(uow.session, "kabid", "Kabid", REGENCY, ["operator", "verifier", "supervisor"])
    receipt = start_new_card(runtime)["receipt"]
    regency = actor(runtime, "kabid")
    assert receipt not in [c["receipt"] for c in engine.list_cases(runtime, regency)]
    assert not [t for t in engine.list_tasks(runtime, regency) if t["receipt"] == receipt]
    for view in ("roles", "office"):
        assert not [i for i in inbox(runtime, regency, view=view)["items"] if i["receipt"] == receipt], view
    with pytest.raises(NotFound):
        engine.get_case(runtime, receipt, regency)
    assert receipt in [c["receipt"] for c in engine.list_cases(runtime, actor(runtime, "camat"))]


# -- lock_case takes the row lock: a cancel racing a completion never leaves both applied ----


def _race_cancel_and_completions(runtime, receipt: str) -> list[str]:
    task = open_task(runtime, receipt, "operator")
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def cancel(i):
        barrier.wait()
        try:
            engine.cancel_case(runtime, receipt, f"batal {i}", actor(runtime, "camat"))
            outcomes.append("cancelled")
        except Conflict:
            outcomes.append("conflict")
        except Exception as exc:  # anything else fails the test
            outcomes.append(f"error {exc!r}")

    def finish(i):
        barrier.wait()
        try:
            engine.complete_task(runtime, task["id"], all_documents(runtime, task), actor(runtime, f"op{i}"))
            outcomes.append("completed")
        except (Conflict, NotFound):
            outcomes.append("conflict")
        except Exception as exc:
            outcomes.append(f"error {exc!r}")

    threads = [threading.Thread(target=cancel if i % 2 else finish, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


def test_a_cancel_racing_completions_leaves_one_consistent_case(runtime):
    for round_ in range(3):
        receipt = start_new_card(runtime, 10 + round_)["receipt"]
        outcomes = _race_cancel_and_completions(runtime, receipt)
        assert len(outcomes) == 6 and not [o for o in outcomes if o.startswith("error")], outcomes
        assert outcomes.count("cancelled") == 1, outcomes  # a case is cancelled once
        assert outcomes.count("completed") <= 1, outcomes
        case = engine.get_case(runtime, receipt, actor(runtime, "camat"))
        kinds = [e["kind"] for e in case["events"]]
        assert case["status"] == "cancelled" and not case["open_tasks"], case["status"]
        assert kinds.count("case_cancelled") == 1 and kinds[-1] == "case_cancelled", kinds


def test_a_message_delivered_in_parallel_is_applied_once(runtime):
    """The regency's card_printed arriving twice at once (a resend racing the original)."""
    receipt = start_new_card(runtime, 20)["receipt"]
    complete(runtime, receipt, "operator", DOCS_OK)
    complete(runtime, receipt, "verifier", VERIFIED)
    complete(runtime, receipt, "operator", BIOMETRICS)
    run_worker_until_quiet(runtime)  # sent to the regency; now waiting for the card
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def deliver(_i):
        barrier.wait()
        try:
            engine.deliver_message(runtime, "card_printed", receipt, {}, engine.Actor.system())
            outcomes.append("applied")
        except (Conflict, NotFound):
            outcomes.append("refused")
        except Exception as exc:
            outcomes.append(f"error {exc!r}")

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["applied"] + ["refused"] * 5, outcomes
    case = engine.get_case(runtime, receipt, actor(runtime, "camat"))
    kinds = [e["kind"] for e in case["events"]]
    assert kinds.count("message_received") == 1, kinds
    assert [t["step"] for t in case["open_tasks"]] == ["Task_receive_card"]


# -- of parallel timers, the job is due at the earliest ---------------------------------------

TWO_TIMERS = f"""{HEAD}
  <bpmn:process id="two_timers" name="Two timers" isExecutable="true">
    <bpmn:laneSet id="LS"><bpmn:lane id="Lane_1" name="operator">
      <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>split</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>soon</bpmn:flowNodeRef><bpmn:flowNodeRef>later</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>join</bpmn:flowNodeRef><bpmn:flowNodeRef>ask</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:parallelGateway id="split"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing><bpmn:outgoing>f3</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:intermediateCatchEvent id="later" name="Later"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f4</bpmn:outgoing><bpmn:timerEventDefinition id="t_later">
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT5H"</bpmn:timeDuration>
      </bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="soon" name="Soon"><bpmn:incoming>f3</bpmn:incoming>
      <bpmn:outgoing>f5</bpmn:outgoing><bpmn:timerEventDefinition id="t_soon">
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT1H"</bpmn:timeDuration>
      </bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:parallelGateway id="join"><bpmn:incoming>f4</bpmn:incoming><bpmn:incoming>f5</bpmn:incoming>
      <bpmn:outgoing>f6</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="ask" name="Ask">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formKey" value="documents_returned"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f6</bpmn:incoming><bpmn:outgoing>f7</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="outcome" value="completed"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f7</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="split"/>
    <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="later"/>
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="soon"/>
    <bpmn:sequenceFlow id="f4" sourceRef="later" targetRef="join"/>
    <bpmn:sequenceFlow id="f5" sourceRef="soon" targetRef="join"/>
    <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="ask"/>
    <bpmn:sequenceFlow id="f7" sourceRef="ask" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_of_two_parallel_timers_the_worker_wakes_at_the_earlier(bare_runtime):
    rt = bare_runtime
    engine.deploy_process(rt, TWO_TIMERS.encode(), deployed_by="test", source="two_timers.bpmn")
    started = utcnow()
    receipt = engine.start_case(rt, "two_timers", resident(1), actor(rt, "operator"))["receipt"]
    with rt.read() as s:
        case_id = s.scalar(select(Case.id).where(Case.receipt == receipt))
        due = s.scalars(select(Job.due_at).where(Job.case_id == case_id, Job.kind == "timer")).all()
    assert len(due) == 1
    assert started + timedelta(minutes=59) <= due[0] <= utcnow() + timedelta(minutes=61), due[0]


# -- retries back off --------------------------------------------------------------------------


def test_retries_wait_longer_after_each_failure():
    waits = [[backoff(10, attempt).total_seconds() for _ in range(50)] for attempt in (1, 2, 3, 4, 5)]
    for attempt, samples in enumerate(waits, start=1):
        ceiling = 10 * 2 ** (attempt - 1)
        assert all(ceiling / 2 <= w <= ceiling for w in samples), (attempt, min(samples), max(samples))
    assert min(waits[4]) > max(waits[0]) * 3  # the fifth try waits far longer than the first
    assert len({round(w, 3) for w in waits[2]}) > 10  # with jitter, so retries do not march in step
    assert max(backoff(10, 10_000).total_seconds() for _ in range(20)) <= 3600


# -- a form-only change is a new version -------------------------------------------------------


def test_a_change_to_a_form_only_changes_the_versions_content_hash():
    """Deploying refuses a version whose hash is unchanged: forms must be part of it."""
    from simpul.engine._specs import content_hash

    bpmn = "<bpmn/>"
    assert content_hash(bpmn, {"f": {"components": [1]}}) != content_hash(bpmn, {"f": {"components": [2]}})
    assert content_hash(bpmn, {"f": {"a": 1, "b": 2}}) == content_hash(bpmn, {"f": {"b": 2, "a": 1}})


# -- a file exactly at the size limit is taken -------------------------------------------------


def test_a_file_exactly_at_the_limit_is_taken_and_one_byte_more_refused(runtime):
    limit = max_upload_bytes(runtime)
    head, tail = b"%PDF-1.4\n", b"\n%%EOF\n"

    def pdf(size):
        return head + b"0" * (size - len(head) - len(tail)) + tail

    assert len(pdf(limit)) == limit
    assert check_content(pdf(limit), limit)[0] == "application/pdf"
    with pytest.raises(ValidationFailed) as refused:
        check_content(pdf(limit + 1), limit)
    assert "file" in refused.value.errors


# -- a case in incident is open: no second case for the same resident -------------------------


def test_a_case_in_incident_still_blocks_a_second_case_for_the_resident(runtime):
    receipt = start_new_card(runtime, 5)["receipt"]
    with runtime.transaction() as uow:
        case = uow.session.scalar(select(Case).where(Case.receipt == receipt))
        case.status, case.incident = "incident", "service down"
    with pytest.raises(Conflict) as refused:
        start_new_card(runtime, 5)
    assert receipt in str(refused.value.errors or refused.value)
