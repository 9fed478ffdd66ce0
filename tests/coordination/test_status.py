"""``simpul coordination status`` and the status page: what waits, the oldest, the last contact
with each office, failures, and the alert once a message has waited too long."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine

from simpul.engine.models import utcnow
from simpul.plugins.coordination.web import blueprint, make_inbox_app

from ..cli_runner import node_env, run_in_process
from .helpers import open_steps, pending, print_card, printing_receipt, receipts, record_case, wait_for, work

ROOT = Path(__file__).resolve().parents[2]


def _cli(node_rt, url, tmp_path, *args):
    """``simpul coordination ARGS`` for the node, run through the console entry point."""
    env = node_env(
        SIMPUL_DATABASE_URL=url,
        SIMPUL_INSTANCE_PATH=str(tmp_path / "cli"),
        SIMPUL_OFFICE_CODE=node_rt.config.office_code,
        SIMPUL_OFFICE_KIND=node_rt.config.office_kind,
        SIMPUL_SETTINGS=json.dumps(node_rt.config.settings),
    )
    return run_in_process(["coordination", *args], env)


def _down_with_two_waiting(nodes):
    kec = nodes.kecamatan.runtime
    nodes.regency.stop_server()
    first, second = record_case(kec, 1), record_case(kec, 2)
    work(kec)
    assert pending(kec) == 2
    return first, second


def test_status_command_lists_waiting_oldest_contact_and_failures(nodes, two_dbs, tmp_path):
    kec = nodes.kecamatan.runtime
    kec.config.settings["coordination"].update(retry_base_seconds=300, retry_max_seconds=600)
    first, _ = _down_with_two_waiting(nodes)

    result = _cli(kec, two_dbs[0], tmp_path, "status", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["waiting"] == 2 and status["oldest"]["case"] == first
    assert status["oldest"]["destination"] == "6402" and status["oldest"]["attempts"] >= 1
    (peer,) = status["peers"]
    assert peer["office"] == "6402" and peer["waiting"] == 2 and peer["last_success_at"] is None
    assert "office 6402 not reached" in peer["last_error"] and peer["last_failure_at"]
    assert {f["case"] for f in status["failures"]} == {first, _}
    assert status["alert"]["raised"] is False

    text = _cli(kec, two_dbs[0], tmp_path, "status")
    assert text.returncode == 0 and "waiting: 2" in text.stdout and f"oldest: {first}" in text.stdout

    # The link comes back while the messages back off for minutes; the operator sends them now.
    nodes.regency.start_server()
    assert work(kec)["sent"] == 0
    woken = _cli(kec, two_dbs[0], tmp_path, "retry", "--json")
    assert woken.returncode == 0 and json.loads(woken.stdout)["woken"] == 2
    work(kec)
    status = json.loads(_cli(kec, two_dbs[0], tmp_path, "status", "--json").stdout)
    assert status["waiting"] == 0 and status["peers"][0]["last_success_at"] and status["failures"] == []


def test_status_page_raises_the_alert_once_a_message_waited_longer_than_the_setting(sqlite_nodes):
    nodes = sqlite_nodes
    kec = nodes.kecamatan.runtime
    kec.config.settings["coordination"]["alert_after"] = "PT2H"
    kec.config.locale = "en"
    first, _ = _down_with_two_waiting(nodes)
    client = make_inbox_app(kec).test_client()

    page = client.get("/coordination/status").get_data(as_text=True)
    assert "Messages waiting to be sent: 2" in page and first in page
    assert "office 6402 not reached" in page and 'id="coordination-alert"' not in page
    assert "An alert is shown when a message waits longer than 2 hours." in page

    with time_machine.travel(utcnow() + timedelta(hours=2, minutes=5), tick=True):
        page = client.get("/coordination/status").get_data(as_text=True)
        data = client.get("/coordination/status.json").get_json()
    assert 'id="coordination-alert"' in page
    assert (
        "Messages are not getting through: the oldest has waited 2 hours 5 minutes "
        "(longer than 2 hours) for office 6402." in page
    )
    assert data["alert"]["raised"] is True and data["waiting"] == 2


def test_status_page_speaks_indonesian_by_default(sqlite_nodes):
    nodes = sqlite_nodes
    kec = nodes.kecamatan.runtime
    assert kec.config.locale == "id"
    _down_with_two_waiting(nodes)
    page = make_inbox_app(kec).test_client().get("/coordination/status").get_data(as_text=True)
    _ = kec.gettext("id")
    title = _("Coordination with other offices")
    waiting = _("Messages waiting to be sent: {count}").format(count=2)
    assert title.startswith("Koordinasi") and "2" in waiting and not waiting.startswith("Messages")
    assert title in page and waiting in page and "Messages waiting" not in page
    assert "6 jam" in page and "6 h" not in page  # the alert rule's duration in words (issue 14 item 10)


def test_status_page_says_when_a_message_waits_for_an_office_with_no_address(sqlite_nodes):
    from uuid import uuid4

    from simpul.engine.models import OutboxMessage

    kec = sqlite_nodes.kecamatan.runtime
    with kec.transaction() as uow:
        uow.session.add(
            OutboxMessage(
                message_id=str(uuid4()),
                source_office="640205",
                destination_office="640299",  # no such peer in the node's settings
                kind="message",
                payload={"name": "note", "correlation_key": "x"},
            )
        )
    page = make_inbox_app(kec).test_client().get("/coordination/status").get_data(as_text=True)
    assert "alamat belum diatur" in page and "no address configured" not in page


def test_status_page_is_only_shown_on_the_node_itself_without_sign_in(sqlite_nodes):
    client = make_inbox_app(sqlite_nodes.kecamatan.runtime).test_client()
    assert client.get("/coordination/status", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 403
    assert client.get("/coordination/status.json", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 403
    assert client.get("/coordination/status").status_code == 200


def test_in_the_web_app_the_inbox_needs_no_csrf_token_and_the_page_needs_a_sign_in(sqlite_nodes):
    """The clerks' web app with this plugin's blueprint: peers post without a session."""
    web = pytest.importorskip("web")
    nodes = sqlite_nodes
    kec, reg = nodes.kecamatan.runtime, nodes.regency.runtime
    app = web.create_app({"WTF_CSRF_ENABLED": True}, runtime=kec)
    if "coordination.inbox" not in app.view_functions:  # until the factory registers plugin blueprints
        app.register_blueprint(blueprint(kec))
    nodes.kecamatan.server._server.app = app  # the kecamatan node now serves the full web app
    receipt = record_case(kec, 1)
    work(kec)
    print_card(reg, printing_receipt(reg, receipt), "KTP-WEB")
    assert wait_for(lambda: receipts(kec) == 1, timeout=10, tick=lambda: work(reg))
    assert pending(reg) == 0 and open_steps(kec, receipt) == ["Task_receive_card"]

    response = app.test_client().get("/coordination/status")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_an_administrator_can_discard_a_stuck_message_with_a_reason(nodes, two_dbs, tmp_path):
    from simpul import engine
    from tests.flows import actor

    from .helpers import receipts

    kec = nodes.kecamatan.runtime
    first, second = _down_with_two_waiting(nodes)
    message_id = next(
        f["message_id"]
        for f in json.loads(_cli(kec, two_dbs[0], tmp_path, "status", "--json").stdout)["failures"]
        if f["case"] == first
    )
    refused = _cli(kec, two_dbs[0], tmp_path, "discard", message_id)
    assert refused.returncode != 0 and "--reason" in refused.stderr
    done = _cli(
        kec, two_dbs[0], tmp_path, "discard", message_id, "--reason", "Warga membatalkan", "--as", "camat", "--json"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "discarded"
    events = engine.get_case(kec, first, actor(kec, "camat"))["events"]
    (note,) = [e for e in events if e["kind"] == "message_discarded"]
    assert note["actor"] == "camat" and note["detail"] == "Warga membatalkan"

    nodes.regency.start_server()
    assert wait_for(lambda: pending(kec) == 0, timeout=10, tick=lambda: work(kec))
    assert receipts(nodes.regency.runtime) == 1  # only the other case went
    status = json.loads(_cli(kec, two_dbs[0], tmp_path, "status", "--json").stdout)
    assert [d["case"] for d in status["discarded"]] == [first]


def test_discarding_without_json_prints_the_message_and_its_new_state(nodes, two_dbs, tmp_path):
    kec = nodes.kecamatan.runtime
    _down_with_two_waiting(nodes)
    message_id = json.loads(_cli(kec, two_dbs[0], tmp_path, "status", "--json").stdout)["failures"][0]["message_id"]
    done = _cli(kec, two_dbs[0], tmp_path, "discard", message_id, "--reason", "Warga membatalkan", "--as", "camat")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{message_id}: discarded\n"
