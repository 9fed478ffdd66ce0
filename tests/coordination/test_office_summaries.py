"""A regency sees a kecamatan that runs its own node: the kecamatan sends its figures over the
coordination link, the regency's dashboard shows them side by side, "as of" their time."""

from __future__ import annotations

import pytest
import time_machine
from sqlalchemy import select

from simpul import engine
from simpul.engine.models import OutboxMessage
from simpul.plugins.coordination import summaries
from tests.flows import actor

from .helpers import count, record_case, work


def _kept(reg):
    return summaries.office_summaries(reg, actor(reg, "disdukcapil"))


@pytest.fixture(params=["03:30", "17:30"], ids=["morning-utc", "night-utc"])
def clock(request):
    """17:30 UTC is already tomorrow, 01:30, in the office (WITA): the figures are the office's day's."""
    with time_machine.travel(f"2026-03-04T{request.param}:00Z", tick=True):
        yield


def test_the_kecamatan_summary_reaches_the_regency_over_the_link(clock, nodes):
    kec, reg = nodes.kecamatan.runtime, nodes.regency.runtime
    record_case(kec, 1)
    record_case(kec, 2)
    work(kec)  # both sent to the regency
    assert _kept(reg) == []  # the regency's database has no kecamatan of its own

    (message_id,) = summaries.send_summaries(kec)
    done = work(kec)
    assert done["sent"] == 1
    with kec.read() as s:
        assert s.scalar(select(OutboxMessage.status).where(OutboxMessage.message_id == message_id)) == "sent"

    (kept,) = _kept(reg)
    own = engine.stats.dashboard(kec, actor(kec, "camat"))["offices"][0]
    assert kept["office"] == "640205" and kept["name"] == own["name"]
    assert kept["open_total"] == own["now"]["open_total"] and kept["overdue_total"] == own["now"]["overdue_total"]
    assert sum(w["started"] for w in kept["weeks"]) == 2 and sum(w["sent"] for w in kept["weeks"]) == 2
    assert summaries.WEEKS <= len(kept["weeks"]) <= summaries.WEEKS + 1  # the first may be a part-week
    assert kept["as_of"]

    # a camat of another regency's node, or a kecamatan officer, sees none of it
    assert summaries.office_summaries(kec, actor(kec, "camat")) == []


def test_an_older_summary_never_replaces_a_newer_and_an_office_sends_only_its_own(sqlite_nodes):
    reg = sqlite_nodes.regency.runtime
    newer = {"office": "640205", "name": "K", "as_of": "2026-03-02T10:00:00+00:00", "weeks": [], "open_total": 5}
    older = dict(newer, as_of="2026-03-02T09:00:00+00:00", open_total=1)
    assert summaries.apply_summary(reg, "m1", newer, "640205", "6402")["status"] == "applied"
    assert summaries.apply_summary(reg, "m2", older, "640205", "6402")["status"] == "duplicate"
    assert _kept(reg)[0]["open_total"] == 5
    other = dict(newer, office="640206")
    refused = summaries.apply_summary(reg, "m3", other, "640205", "6402")
    assert refused["status"] == "retry" and "only its own" in refused["error"]
    assert [k["office"] for k in _kept(reg)] == ["640205"]


def test_a_summary_is_sent_after_a_step_once_the_interval_has_passed(sqlite_nodes):
    kec = sqlite_nodes.kecamatan.runtime
    kec.config.settings["coordination_summary_minutes"] = 1e-9  # due at once after the first step
    summaries._last_sent.pop(id(kec), None)
    record_case(kec, 1)
    assert count(kec, OutboxMessage, OutboxMessage.kind == summaries.KIND) >= 1
    kec.config.settings["coordination_summary_minutes"] = 0  # off: no more
    before = count(kec, OutboxMessage, OutboxMessage.kind == summaries.KIND)
    record_case(kec, 2)
    assert count(kec, OutboxMessage, OutboxMessage.kind == summaries.KIND) == before


def test_the_regency_dashboard_shows_them_with_as_of(sqlite_nodes):
    from argon2 import PasswordHasher

    from simpul.web import create_app
    from tests.web.conftest import set_passwords
    from tests.web.web_helpers import PASSWORD, Browser, page_text

    kec, reg = sqlite_nodes.kecamatan.runtime, sqlite_nodes.regency.runtime
    record_case(kec, 1)
    work(kec)
    summaries.send_summaries(kec)
    work(kec)
    set_passwords(reg, PasswordHasher().hash(PASSWORD))
    browser = Browser(create_app(runtime=reg, config={"TESTING": True}))
    browser.login("disdukcapil")
    response = browser.get("/dashboard")
    assert response.status_code == 200
    text = page_text(response)
    assert "Kecamatan Sangasanga" in text and "640205" in text
    assert "Per " in text and "sebagaimana terakhir dikirim" in text
    html = response.get_data(as_text=True)
    assert 'id="remote-640205"' in html and 'id="flow-640205"' in html


def test_simpul_coordination_summary_queues_it_from_the_command_line(sqlite_nodes, tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    kec, reg = sqlite_nodes.kecamatan.runtime, sqlite_nodes.regency.runtime
    record_case(kec, 1)
    work(kec)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}
    env.update(
        SIMPUL_DATABASE_URL=kec.config.database_url,
        SIMPUL_INSTANCE_PATH=str(tmp_path / "cli"),
        SIMPUL_OFFICE_CODE="640205",
        SIMPUL_OFFICE_KIND="kecamatan",
        SIMPUL_REGENCY_CODE="6402",
        SIMPUL_SETTINGS=json.dumps({"coordination": kec.config.settings["coordination"]}),
    )
    simpul = str(Path(sys.executable).with_name("simpul"))
    proc = subprocess.run([simpul, "coordination", "summary"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "summary queued for office 6402" in proc.stdout
    work(kec)
    assert [k["office"] for k in _kept(reg)] == ["640205"]
    env.update(SIMPUL_OFFICE_KIND="regency", SIMPUL_OFFICE_CODE="6402")
    refused = subprocess.run([simpul, "coordination", "summary"], env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "not a kecamatan node" in refused.stderr
