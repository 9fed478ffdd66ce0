"""Every hook in engine/hookspecs.py is documented and exercised here, one test per hook
(``test_hook_<name>``), through a plugin written exactly as a regency would write one."""

from __future__ import annotations

import inspect
import json
import sys
from datetime import UTC, datetime, timedelta

import click
import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from click.testing import CliRunner
from sqlalchemy import func, select

from simpul import engine
from simpul.engine import ValidationFailed, hookimpl, hookspecs, requirements_for
from simpul.engine.models import Case, CaseEvent, OutboxMessage
from simpul.engine.worker import dispatch_outbox

from .bpmn_samples import script_process, service_process
from .conftest import make_runtime, seed_offices
from .flows import DOCS_OK, actor, complete, open_task, resident, start_new_card

HOOKS = sorted(name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, "simpul_spec"))


def test_every_hook_is_documented_and_tested():
    assert len(HOOKS) >= 9
    module = sys.modules[__name__]
    for name in HOOKS:
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert "Called" in doc, f"hook {name}: say when it is called"
        assert any(w in doc for w in ("Return", "return value", "ignored")), f"hook {name}: say what it returns"
        assert callable(getattr(module, f"test_hook_{name}", None)), f"hook {name} has no test_hook_{name}"


def _runtime(db, tmp_path, *plugins, **config):
    rt = make_runtime(db, tmp_path, extra_plugins=plugins, **config)
    seed_offices(rt)
    return rt


def test_hook_processes(db, tmp_path):
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "probe.bpmn").write_text(script_process("x = 1", key="plugin_probe"))

    class Ships:
        @hookimpl
        def processes(self):
            return [str(shipped)]

    rt = _runtime(db, tmp_path, Ships())
    outcomes = {p.rsplit("/", 1)[-1]: o for p, _v, o in engine.deploy_bundled(rt)}
    assert outcomes["probe.bpmn"] == "deployed" and outcomes["ektp_new_card.bpmn"] == "deployed"
    assert {p.rsplit("/", 1)[-1]: o for p, _v, o in engine.deploy_bundled(rt)}["probe.bpmn"] == "unchanged"
    rt.close()


def test_hook_form_dirs(db, tmp_path):
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "kukar_extra.form.json").write_text(
        json.dumps(
            {
                "components": [
                    {
                        "type": "textfield",
                        "key": "rt_letter_number",
                        "label": "Nomor surat RT",
                        "validate": {"required": True},
                    }
                ]
            }
        )
    )

    class Forms:
        @hookimpl
        def form_dirs(self):
            return [str(forms)]

    rt = _runtime(db, tmp_path, Forms())
    xml = script_process("x = 1").replace('value="documents_returned"', 'value="kukar_extra"')
    version = engine.deploy_process(rt, xml, deployed_by="admin")
    assert "kukar_extra" in version.forms
    case = engine.start_case(rt, "sandbox_probe", resident(1), actor(rt, "operator"))
    task = open_task(rt, case["receipt"], "operator")
    with pytest.raises(ValidationFailed) as err:
        engine.complete_task(rt, task["id"], {}, actor(rt, "operator"))
    assert "rt_letter_number" in err.value.errors
    rt.close()


def test_hook_service_operators(db, tmp_path):
    seen = []

    class Greeter:
        @hookimpl
        def service_operators(self):
            return {"test.greet": lambda ctx, who: seen.append((ctx.case.receipt, who)) or {"hello": who}}

    rt = _runtime(db, tmp_path, Greeter())
    engine.deploy_process(rt, service_process("test.greet"), deployed_by="admin")
    case = engine.start_case(rt, "service_probe", resident(1), actor(rt, "operator"))
    from simpul.engine.worker import run_due

    assert run_due(rt)["services"] == 1
    assert seen == [(case["receipt"], "Warga 1")]
    assert engine.get_case(rt, case["receipt"], actor(rt, "operator"))["data"]["svc_result"] == {"hello": "Warga 1"}
    rt.close()


def test_hook_document_requirements(db, tmp_path):
    class PoliceLetter:
        @hookimpl
        def document_requirements(self, procedure, data):
            if procedure == "ektp_replacement" and data.get("reason") == "lost":
                return [{"key": "police_letter", "label": "Police report", "source": "kukar"}]
            return [{"key": "family_card", "label": "KK (asli dan fotokopi)", "source": "kukar"}]

    rt = _runtime(db, tmp_path, PoliceLetter())
    lost = requirements_for(rt, "ektp_replacement", {"reason": "lost"})
    assert [r["key"] for r in lost] == ["police_letter"]
    new_card = requirements_for(rt, "ektp_new_card", {})
    assert [(r["key"], r["source"]) for r in new_card] == [("family_card", "kukar")]  # later plugin's entry wins
    rt.close()


def test_hook_validate_task_data(db, tmp_path):
    class DeviceRule:
        @hookimpl
        def validate_task_data(self, case, step, form_key, data):
            if step == "Task_document_check" and "kk" not in (data.get("document_notes") or ""):
                return {"document_notes": ["Mention the KK."]}
            return None

    rt = _runtime(db, tmp_path, DeviceRule())
    engine.deploy_bundled(rt)
    receipt = start_new_card(rt)["receipt"]
    task = open_task(rt, receipt, "operator")
    with pytest.raises(ValidationFailed) as err:
        engine.complete_task(rt, task["id"], DOCS_OK, actor(rt, "operator"))
    assert err.value.errors == {"document_notes": ["Mention the KK."]}
    assert open_task(rt, receipt, "operator")["id"] == task["id"]
    complete(rt, receipt, "operator", {**DOCS_OK, "document_notes": "kk ok"})
    rt.close()


def test_hook_validate_case_start(db, tmp_path):
    class AdultsOnly:
        @hookimpl
        def validate_case_start(self, procedure, office_code, data):
            return {"birth_date": ["Too young."]} if data.get("birth_date", "") > "2010-01-01" else None

    rt = _runtime(db, tmp_path, AdultsOnly())
    engine.deploy_bundled(rt)
    with pytest.raises(ValidationFailed) as err:
        start_new_card(rt, 1, birth_date="2015-01-01")
    assert "Too young." in err.value.errors["birth_date"]
    with rt.read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
    start_new_card(rt, 2)
    rt.close()


def test_hook_case_event(db, tmp_path):
    heard = []

    class Listener:
        @hookimpl
        def case_event(self, event, case):
            with rt.read() as s:  # after commit: the event is already visible to others
                visible = s.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == event["kind"]))
            heard.append((event["kind"], case.receipt, visible))

    rt = _runtime(db, tmp_path, Listener())
    engine.deploy_bundled(rt)
    receipt = start_new_card(rt)["receipt"]
    task = open_task(rt, receipt, "operator")
    with pytest.raises(ValidationFailed):  # refused: nothing committed, nothing announced
        engine.complete_task(rt, task["id"], {"documents_complete": True}, actor(rt, "operator"))
    complete(rt, receipt, "operator", DOCS_OK)
    assert heard == [("case_started", receipt, 1), ("task_completed", receipt, 1)]
    rt.close()


def test_hook_deliver_outbox_message(db, tmp_path):
    answers = [False, True]
    delivered = []

    class Courier:
        @hookimpl(tryfirst=True)
        def deliver_outbox_message(self, runtime, message):
            delivered.append(message["kind"])
            return answers.pop(0)

    rt = _runtime(db, tmp_path, Courier(), job_backoff_seconds=60)  # a retry must not be due at once
    engine.deploy_bundled(rt)
    receipt = start_new_card(rt)["receipt"]
    complete(rt, receipt, "operator", DOCS_OK)
    complete(rt, receipt, "verifier", {"residence_verified": True, "kelurahan_officer": "B"})
    complete(
        rt,
        receipt,
        "operator",
        {
            "photo_captured": True,
            "fingerprints_captured": True,
            "iris_captured": True,
            "signature_captured": True,
            "device_id": "D",
        },
    )
    from simpul.engine.worker import run_due

    assert run_due(rt)["unsent"] == 1  # the courier said "not now"
    with rt.read() as s:
        message = s.scalar(select(OutboxMessage))
        assert message.status == "pending" and message.attempts == 1 and message.next_attempt_at > message.created_at
    assert dispatch_outbox(rt) == (0, 0)  # backing off: not due yet
    with rt.transaction() as uow:
        uow.session.scalar(select(OutboxMessage)).next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)
    assert dispatch_outbox(rt) == (1, 0)
    assert delivered == ["start_case", "start_case"]
    rt.close()


def test_hook_translation_dirs(db, tmp_path):
    catalog = Catalog(locale="id")
    catalog.add("A NIK is 16 digits.", "NIK terdiri dari 16 angka (versi plugin).")
    target = tmp_path / "i18n" / "id" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with open(target / "messages.mo", "wb") as fh:
        write_mo(fh, catalog)

    class Words:
        @hookimpl
        def translation_dirs(self):
            return [str(tmp_path / "i18n")]

    rt = _runtime(db, tmp_path, Words())
    assert rt.gettext("id")("A NIK is 16 digits.") == "NIK terdiri dari 16 angka (versi plugin)."
    rt.close()


def test_hook_translation_dirs_reads_an_uncompiled_po(db, tmp_path):
    """A plugin installed from source ships its .po only; its words must still show."""
    from babel.messages.pofile import write_po

    catalog = Catalog(locale="id")
    catalog.add("Police report of the lost card", "Surat kehilangan dari Polsek")
    target = tmp_path / "po_only" / "id" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with open(target / "messages.po", "wb") as fh:
        write_po(fh, catalog)

    class Words:
        @hookimpl
        def translation_dirs(self):
            return [str(tmp_path / "po_only")]

    rt = _runtime(db, tmp_path, Words())
    assert rt.gettext("id")("Police report of the lost card") == "Surat kehilangan dari Polsek"
    rt.close()


def test_hook_register_commands():
    class Command:
        @hookimpl
        def register_commands(self, cli):
            @cli.command()
            def kukar():
                """A regency's own command."""
                click.echo("halo dari Kutai Kartanegara")

    from simpul.engine.plugins import make_plugin_manager

    group = click.Group("simpul")
    make_plugin_manager("", extra_plugins=[Command()]).hook.register_commands(cli=group)
    result = CliRunner().invoke(group, ["kukar"])
    assert result.exit_code == 0 and "halo dari Kutai Kartanegara" in result.output


def test_hook_web_blueprints(db, tmp_path):
    flask = pytest.importorskip("flask")
    web = pytest.importorskip("web")

    page = flask.Blueprint("kukar_page", __name__)

    @page.get("/kukar/hello")
    def hello():
        return "Selamat datang di Kukar"

    class Pages:
        @hookimpl
        def web_blueprints(self, runtime):
            return [page]

    rt = _runtime(db, tmp_path, Pages())
    app = web.create_app(runtime=rt)
    response = app.test_client().get("/kukar/hello")
    assert response.status_code == 200 and b"Selamat datang di Kukar" in response.data
    rt.close()


def test_hook_bpmn_messages(db, tmp_path):
    from simpul.engine import validation
    from simpul.engine.errors import PluginError

    xml = (
        (engine.resources.PROCESSES_DIR / "ektp_new_card.bpmn")
        .read_text()
        .replace('name="temporary_certificate_issued"', 'name="kukar_sms_sent"')
    )
    engine.Actor("admin", "640205", frozenset({"process_admin"}))

    class Messages:
        @hookimpl
        def bpmn_messages(self):
            return {"kukar_sms_sent": {"correlation": "receipt", "description": "SMS gateway confirmed"}}

    rt = _runtime(db, tmp_path)  # built-in plugins only: the coordination plugin names the regency's answers
    known = validation.known_messages(rt)
    assert known["card_printed"]["correlation"] == "receipt" and "kukar_sms_sent" not in known
    errors = validation.validate_process(rt, xml).errors
    assert [e["shape"] for e in errors] == ["Boundary_suket_issued"]
    rt.close()
    rt = _runtime(db, tmp_path, Messages())
    assert validation.validate_process(rt, xml).errors == []
    rt.close()

    class Clash:
        @hookimpl
        def bpmn_messages(self):
            return {"card_printed": {"correlation": "nik"}}

    rt = _runtime(db, tmp_path, Clash())
    with pytest.raises(PluginError, match="card_printed is correlated by"):
        validation.known_messages(rt)
    rt.close()
