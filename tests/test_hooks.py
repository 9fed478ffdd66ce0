"""Every hook in engine/hookspecs.py is documented and exercised here, one test per hook
(``test_hook_<name>``), through a plugin written exactly as a regency would write one."""

from __future__ import annotations

import inspect
import json
import sys
from datetime import UTC, datetime, timedelta

import click
import pytest
import sqlalchemy as sa
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from click.testing import CliRunner
from sqlalchemy import func, select

from simpul import engine
from simpul.engine import ValidationFailed, hookimpl, hookspecs
from simpul.engine.cases import requirements_for
from simpul.engine.models import Case, CaseEvent, OutboxMessage
from simpul.engine.worker import dispatch_outbox

from .bpmn_samples import script_process, service_process
from .conftest import INSTALLED_PLUGINS_BLOCKED, make_runtime, seed_offices
from .flows import DOCS_OK, actor, all_documents, complete, open_task, resident, start_new_card

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

    # the combination of the verification plugin's list and this one's, so a regency plugin
    # installed here (with its own entries) is left out
    rt = _runtime(db, tmp_path, PoliceLetter(), plugins=INSTALLED_PLUGINS_BLOCKED)
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
        engine.complete_task(rt, task["id"], all_documents(rt, task), actor(rt, "operator"))
    assert err.value.errors == {"document_notes": ["Mention the KK."]}
    assert open_task(rt, receipt, "operator")["id"] == task["id"]
    engine.complete_task(rt, task["id"], {**all_documents(rt, task), "document_notes": "kk ok"}, actor(rt, "operator"))
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


def test_a_plugin_failing_in_case_event_does_not_silence_the_others(db, tmp_path, caplog):
    heard = []

    class Broken:
        @hookimpl
        def case_event(self, event, case):
            raise RuntimeError("statistics server down")

    class Listener:
        @hookimpl
        def case_event(self, event, case):
            heard.append(event["kind"])

    # registered before and after the broken one: both sides of it must still hear the event
    rt = make_runtime(db, tmp_path, extra_plugins=[Listener(), Broken(), Listener()])
    seed_offices(rt)
    engine.deploy_bundled(rt)
    with caplog.at_level("ERROR", logger="simpul.engine"):
        receipt = start_new_card(rt)["receipt"]
    assert heard == ["case_started", "case_started"]
    failed = [r for r in caplog.records if "case_event" in r.getMessage()]
    assert len(failed) == 1 and "case_started" in failed[0].getMessage()
    broken_name = next(n for n, p in rt.pm.list_name_plugin() if isinstance(p, Broken))
    assert broken_name in failed[0].getMessage()
    assert [e["kind"] for e in engine.get_case(rt, receipt, actor(rt, "operator"))["events"]] == ["case_started"]
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
    """A plugin's catalogue translates its own msgids; the core's words stay the core's (a
    plugin is a fallback behind the core catalogue, so it cannot reword the core by accident)."""
    catalog = Catalog(locale="id")
    catalog.add("A police letter is needed.", "Surat keterangan polisi diperlukan.")
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
    gettext = rt.gettext("id")
    assert gettext("A police letter is needed.") == "Surat keterangan polisi diperlukan."
    assert gettext("A NIK is 16 digits.") == "NIK terdiri dari 16 digit angka."  # the core's own
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
    web = pytest.importorskip("simpul.web")

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
    from simpul.engine import drafts
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
    known = drafts.known_messages(rt)
    assert known["card_printed"]["correlation"] == "receipt" and "kukar_sms_sent" not in known
    errors = drafts.validate_process(rt, xml).errors
    assert [e["shape"] for e in errors] == ["Boundary_suket_issued"]
    rt.close()
    rt = _runtime(db, tmp_path, Messages())
    assert drafts.validate_process(rt, xml).errors == []
    rt.close()

    class Clash:
        @hookimpl
        def bpmn_messages(self):
            return {"card_printed": {"correlation": "nik"}}

    rt = _runtime(db, tmp_path, Clash())
    with pytest.raises(PluginError, match="card_printed is correlated by"):
        drafts.known_messages(rt)
    rt.close()


def test_hook_case_details(db, tmp_path):
    class Details:
        @hookimpl
        def case_details(self, runtime, case):
            return {"resident_ref": f"{case.office_code}/{case.receipt}", "status": "tampered"}

    rt = _runtime(db, tmp_path, Details())
    engine.deploy_bundled(rt)
    receipt = start_new_card(rt)["receipt"]
    shown = engine.get_case(rt, receipt, actor(rt, "operator"))
    assert shown["resident_ref"] == f"640205/{receipt}"
    assert shown["status"] == "active"  # a plugin adds fields; it never rewrites the engine's
    assert "lookup_code" in shown  # the built-in socialization plugin's field, through the same hook
    with pytest.raises(engine.NotFound):  # the hook runs only after access was checked
        engine.get_case(rt, receipt, actor(rt, "other"))


def test_hook_case_event_recorded(db, tmp_path):
    delivered = []

    class Queues:
        @hookimpl
        def case_event_recorded(self, runtime, event, case, queue):
            if event["kind"] == "case_started":
                queue("resident", "probe", {"receipt": case.receipt}, f"{case.receipt}:started")
                queue("resident", "probe", {"receipt": case.receipt}, f"{case.receipt}:started")  # same key: once

        @hookimpl(tryfirst=True)
        def deliver_outbox_message(self, runtime, message):
            if message["kind"] != "probe":
                return None
            delivered.append(message["payload"]["receipt"])
            return True

    class Broken:
        @hookimpl
        def case_event_recorded(self, event):
            raise RuntimeError("a plugin bug")

    rt = _runtime(db, tmp_path, Queues(), Broken())
    engine.deploy_bundled(rt)
    with pytest.raises(RuntimeError), rt.transaction() as uow:
        from simpul.engine.cases import _start

        _start(rt, uow, "ektp_new_card", resident(1), actor(rt, "operator"), "640205", None, False)
        raise RuntimeError("rolled back")
    with rt.read() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0  # gone with the event
    receipt = start_new_card(rt)["receipt"]  # the broken plugin does not stop the counter
    with rt.read() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "probe")).all()
        assert [r.payload for r in rows] == [{"receipt": receipt}] and rows[0].case_id is None
    dispatch_outbox(rt)
    assert delivered == [receipt]


def test_hook_case_ended(db, tmp_path):
    ended = []

    class Watches:
        @hookimpl
        def case_ended(self, case, session):
            assert session.scalar(select(Case.status).where(Case.id == case.id)) == case.status  # in the transaction
            ended.append((case.receipt, case.status, case.outcome))

    class Broken:
        @hookimpl
        def case_ended(self, session):
            session.execute(sa.text("SELECT * FROM no_such_table"))  # would poison the transaction

    rt = _runtime(db, tmp_path, Watches(), Broken())
    engine.deploy_bundled(rt)
    rejected = start_new_card(rt, 1)["receipt"]
    complete(rt, rejected, "operator", DOCS_OK)
    assert ended == []  # a step that does not end the case
    reason = {"residence_verified": False, "rejection_reason": "Bukan warga", "kelurahan_officer": "Budi"}
    complete(rt, rejected, "verifier", reason)
    cancelled = start_new_card(rt, 2)["receipt"]
    engine.cancel_case(rt, cancelled, "Pemohon pindah", actor(rt, "operator"))
    assert ended == [(rejected, "completed", "rejected"), (cancelled, "cancelled", "cancelled")]
    with rt.read() as s:  # the broken plugin undid only its own statement
        assert s.scalar(select(Case.status).where(Case.receipt == rejected)) == "completed"
        assert s.scalar(select(Case.status).where(Case.receipt == cancelled)) == "cancelled"
    rt.close()


def test_hook_plugin_settings(db, tmp_path):
    class Tuned:
        @hookimpl
        def plugin_settings(self):
            return {
                "namespace": "tuned",
                "defaults": {"limit": 3, "label": "default", "table": {"a": 1, "b": 2}},
                "environment": {"limit": "SIMPUL_TUNED_LIMIT"},
            }

    rt = _runtime(db, tmp_path, Tuned())
    assert rt.plugin_settings("tuned") == {"limit": 3, "label": "default", "table": {"a": 1, "b": 2}}
    rt.plugin_settings("tuned")["table"]["a"] = 99  # a fresh copy: callers cannot change the node's
    assert rt.plugin_settings("tuned")["table"]["a"] == 1
    rt.close()

    environment = {"SIMPUL_TUNED_LIMIT": "7", "SIMPUL_SETTINGS": json.dumps({"tuned": {"table": {"b": 5}}})}
    config = engine.Config.from_env(environment, instance_path=tmp_path / "i2", database_url=db)
    rt = engine.Runtime(config, extra_plugins=[Tuned()])
    assert rt.plugin_settings("tuned") == {"limit": 7, "label": "default", "table": {"a": 1, "b": 5}}
    rt.close()

    class Twice:
        @hookimpl
        def plugin_settings(self):
            return {"namespace": "tuned", "defaults": {}}

    with pytest.raises(engine.PluginError, match="declared twice"):
        _runtime(db, tmp_path, Tuned(), Twice())


def test_hook_node_started(db, tmp_path):
    started = []

    class Starts:
        @hookimpl
        def node_started(self, runtime):
            started.append(runtime.plugin_settings("coordination")["batch_size"])

    rt = _runtime(db, tmp_path, Starts(), settings={"coordination": {"batch_size": 5}})
    assert started == [5]  # once, with every plugin's settings already known
    rt.close()

    class Refuses:
        @hookimpl
        def node_started(self, runtime):
            raise engine.PluginError("The tuned plugin needs a licence key.")

    with pytest.raises(engine.PluginError, match="licence key"):
        _runtime(db, tmp_path, Refuses())
    # the built-in coordination plugin checks its peers when the node starts, not at the first delivery
    with pytest.raises(engine.PluginError, match="coordination settings"):
        _runtime(db, tmp_path, settings={"coordination": {"peers": {"6402": {"url": "https://x.example"}}}})


def test_hook_plugin_migrations(fresh_db, tmp_path):
    from simpul.engine.migrate import current_heads, plugin_migrations, schema_differences, upgrade

    versions = tmp_path / "tally_migrations"
    versions.mkdir()
    (versions / "tally_0001.py").write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n"
        "revision = 'tally_0001'\ndown_revision = None\nbranch_labels = None\ndepends_on = None\n\n"
        "def upgrade():\n"
        "    op.create_table('tally_counts', sa.Column('office_code', sa.String(16), primary_key=True),"
        " sa.Column('count', sa.Integer(), nullable=False))\n\n"
        "def downgrade():\n    op.drop_table('tally_counts')\n"
    )
    metadata = sa.MetaData()
    counts = sa.Table(
        "tally_counts",
        metadata,
        sa.Column("office_code", sa.String(16), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )

    class Tally:
        @hookimpl
        def plugin_migrations(self):
            return {"name": "tally", "directory": versions, "metadata": metadata}

    rt = make_runtime(fresh_db, tmp_path, extra_plugins=[Tally()])
    upgrade(rt)  # what simpul init does
    tally = next(p for p in plugin_migrations(rt) if p.name == "tally")
    assert current_heads(rt, tally) == ("tally_0001",)
    with rt.transaction() as uow:
        uow.session.execute(counts.insert().values(office_code="640205", count=1))
    upgrade(rt)  # again: nothing to do, nothing lost
    with rt.read() as s:
        assert s.execute(sa.select(counts.c.count)).scalar() == 1
    assert schema_differences(rt)["tally"] == []
    rt.close()

    class Unnamed:
        @hookimpl
        def plugin_migrations(self):
            return {"name": "Bad Name", "directory": versions}

    rt = make_runtime(fresh_db, tmp_path, extra_plugins=[Unnamed()])
    with pytest.raises(engine.PluginError, match="migrations"):
        upgrade(rt)
    rt.close()


def test_hook_expression_helpers(db, tmp_path):
    class Fees:
        @hookimpl
        def expression_helpers(self, runtime):
            return {
                "fee_for": lambda name: len(name) * 1000,
                "leaky": lambda: runtime,  # not data: refused where a script calls it
            }

    rt = _runtime(db, tmp_path, Fees())
    engine.deploy_process(rt, script_process("fee = fee_for(resident_name)", key="fee_probe"), deployed_by="test")
    receipt = engine.start_case(rt, "fee_probe", resident(1), actor(rt, "operator"))["receipt"]
    complete(rt, receipt, "operator", {"missing_documents_brought": True})
    case = engine.get_case(rt, receipt, actor(rt, "operator"))
    assert case["status"] == "completed"
    assert case["data"]["fee"] == len(case["data"]["resident_name"]) * 1000

    engine.deploy_process(rt, script_process("x = leaky()", key="leak_probe"), deployed_by="test")
    receipt = engine.start_case(rt, "leak_probe", resident(2), actor(rt, "operator"))["receipt"]
    complete(rt, receipt, "operator", {"missing_documents_brought": True})
    case = engine.get_case(rt, receipt, actor(rt, "operator"))
    assert case["status"] == "incident" and "leaky() gave a value scripts cannot use" in (case["incident"] or "")
    rt.close()

    # a form field with a helper's name would hide it from scripts: refused at deploy
    forms = tmp_path / "shadow_forms"
    forms.mkdir()
    (forms / "shadow.form.json").write_text(json.dumps({"components": [{"type": "textfield", "key": "fee_for"}]}))

    class ShadowForm(Fees):
        @hookimpl
        def form_dirs(self):
            return [str(forms)]

    rt = _runtime(db, tmp_path, ShadowForm())
    xml = script_process("x = 1", key="shadow_probe").replace('value="documents_returned"', 'value="shadow"')
    with pytest.raises(engine.DeployError, match="shadows a script helper"):
        engine.deploy_process(rt, xml, deployed_by="test")
    rt.close()

    class Shadows:
        @hookimpl
        def expression_helpers(self, runtime):
            return {"setting": lambda name, default=None: "mine"}

    with pytest.raises(engine.PluginError, match="not allowed"):
        _runtime(db, tmp_path, Shadows())


class Witness:
    """A regency's rule: a step may be completed with a witness named beside the form."""

    @hookimpl
    def task_inputs(self):
        return [{"name": "witness", "label": "Witness", "help": "Who saw it.", "shown": self.shown}]

    @staticmethod
    def shown(runtime, task, actor):
        return task["step"] == "Task_document_check"

    @hookimpl
    def validate_task_data(self, extras, actor):
        if "witness" in extras and extras["witness"] == actor.username:
            return {"witness": ["The witness cannot be you."]}
        return None

    @hookimpl
    def task_completing(self, case, step, data, extras, actor):
        if not extras.get("witness"):
            return None
        return {
            "data": {"witness": extras["witness"]},
            "events": [{"kind": "witnessed", "detail": extras["witness"], "after": {"step": step}}],
        }


def test_hook_task_inputs(db, tmp_path):
    rt = _runtime(db, tmp_path, Witness())
    assert set(engine.task_inputs(rt)) == {"witness", "override_reason"}  # ours and the verification plugin's
    engine.deploy_bundled(rt)
    receipt = start_new_card(rt)["receipt"]
    task = open_task(rt, receipt, "operator")
    with pytest.raises(engine.InvalidInput, match="No plugin accepts the task input"):
        engine.complete_task(rt, task["id"], all_documents(rt, task), actor(rt, "operator"), extras={"witnes": "Budi"})
    with pytest.raises(ValidationFailed) as err:
        engine.complete_task(
            rt, task["id"], all_documents(rt, task), actor(rt, "operator"), extras={"witness": "operator"}
        )
    assert err.value.errors == {"witness": ["The witness cannot be you."]}
    assert open_task(rt, receipt, "operator")["id"] == task["id"]  # refused: nothing changed

    # the CLI offers every declared input as an option of `simpul tasks complete`
    from simpul.cli import main
    from simpul.cli.commands import add_task_input_options
    from simpul.engine.plugins import make_plugin_manager

    command = main.commands["tasks"].commands["complete"]
    params = list(command.params)
    try:
        add_task_input_options(make_plugin_manager(extra_plugins=[Witness()]).hook)
        help_text = CliRunner().invoke(main, ["tasks", "complete", "--help"]).output
    finally:
        command.params[:] = params
    assert "--witness" in help_text and "--override-reason" in help_text
    rt.close()


def test_hook_task_completing(db, tmp_path):
    rt = _runtime(db, tmp_path, Witness())
    engine.deploy_bundled(rt)
    receipt = start_new_card(rt)["receipt"]
    task = open_task(rt, receipt, "operator")
    engine.complete_task(rt, task["id"], all_documents(rt, task), actor(rt, "operator"), extras={"witness": "Budi"})
    case = engine.get_case(rt, receipt, actor(rt, "operator"))
    assert [e["kind"] for e in case["events"]] == ["case_started", "witnessed", "task_completed"]
    witnessed = case["events"][1]
    assert witnessed["detail"] == "Budi" and witnessed["actor"] == "operator"
    assert witnessed["step"] == "Task_document_check"
    assert case["data"]["witness"] == "Budi"
    rt.close()


def _signed_in(rt, username):
    from argon2 import PasswordHasher

    from simpul.web import create_app

    from .web.conftest import set_passwords
    from .web.web_helpers import PASSWORD, Browser

    set_passwords(rt, PasswordHasher().hash(PASSWORD), [username])
    browser = Browser(create_app(runtime=rt, config={"TESTING": True}))
    browser.login(username)
    return browser


def _tally_blueprint():
    import flask

    bp = flask.Blueprint("tally", __name__, url_prefix="/tally")

    @bp.get("/cases/<receipt>")
    def count(receipt):
        return f"Hitungan {receipt}"

    @bp.get("/overview")
    def overview():
        return "Ringkasan"

    @bp.get("/check")
    def check():
        return {"ok": flask.request.args.get("kk", "").isdigit(), "errors": ["Digits only."]}

    return bp


class TallyPages:
    @hookimpl
    def web_blueprints(self, runtime):
        return [_tally_blueprint()]

    @hookimpl
    def case_actions(self, runtime, case, actor):
        return [
            {"label": "Count the case", "endpoint": "tally.count", "values": {"receipt": case["receipt"]}},
            {"label": "Gone", "endpoint": "tally.missing_page"},  # an endpoint the app lacks: left out
        ]

    @hookimpl
    def menu_links(self, runtime, actor):
        return [{"label": "Tally overview", "endpoint": "tally.overview"}] if actor.has_role("supervisor") else []

    @hookimpl
    def live_checks(self, runtime, process_key):
        return [{"field": "kk", "endpoint": "tally.check", "with": ["nik"], "ok": "KK looks right."}]


def test_hook_case_actions(db, tmp_path):
    rt = _runtime(db, tmp_path, TallyPages())
    engine.deploy_bundled(rt)
    receipt = start_new_card(rt)["receipt"]
    browser = _signed_in(rt, "operator")
    for url in (f"/cases/{receipt}", f"/tasks/{open_task(rt, receipt, 'operator')['id']}"):
        page = browser.get(url).get_data(as_text=True)
        assert f'href="/tally/cases/{receipt}"' in page and "Count the case" in page, url
        assert f'href="/verification/cases/{receipt}/documents"' in page  # the built-in plugin's, the same way
        assert "Gone" not in page
    assert browser.get(f"/tally/cases/{receipt}").get_data(as_text=True) == f"Hitungan {receipt}"
    rt.close()


def test_hook_menu_links(db, tmp_path):
    rt = _runtime(db, tmp_path, TallyPages())
    clerk = _signed_in(rt, "operator").get("/inbox").get_data(as_text=True)
    assert "Tally overview" not in clerk and "/coordination/status" not in clerk
    camat = _signed_in(rt, "camat").get("/inbox").get_data(as_text=True)
    assert 'href="/tally/overview"' in camat and "Tally overview" in camat
    assert 'href="/coordination/status"' in camat  # the coordination plugin's status page, for supervisors
    rt.close()


def test_hook_live_checks(db, tmp_path):
    import html as html_lib
    import re

    rt = _runtime(db, tmp_path, TallyPages())
    engine.deploy_bundled(rt)
    page = _signed_in(rt, "operator").get("/cases/new/ektp_new_card").get_data(as_text=True)
    checks = json.loads(html_lib.unescape(re.search(r'data-live-checks="([^"]+)"', page).group(1)))
    by_field = {c["field"]: c for c in checks}
    assert by_field["kk"] == {
        "field": "kk",
        "url": "/tally/check",
        "with": ["nik"],
        "ok": "KK looks right.",
        "min_length": 1,
    }
    assert by_field["nik"]["url"] == "/verification/nik" and by_field["nik"]["min_length"] == 16
    rt.close()


def test_hook_event_labels(db, tmp_path):
    class Labels(Witness):
        @hookimpl
        def event_labels(self):
            return {"witnessed": "Step completed"}  # a msgid the catalogue has: shown in Indonesian

    rt = _runtime(db, tmp_path, Labels())
    engine.deploy_bundled(rt)
    receipt = start_new_card(rt)["receipt"]
    engine.complete_task(
        rt,
        open_task(rt, receipt, "operator")["id"],
        all_documents(rt, open_task(rt, receipt, "operator")),
        actor(rt, "operator"),
        extras={"witness": "Budi"},
    )
    timeline = _signed_in(rt, "operator").get(f"/cases/{receipt}").get_data(as_text=True)
    assert '<li class="event event-witnessed">' in timeline
    witnessed = timeline.split('<li class="event event-witnessed">', 1)[1].split("</li>", 1)[0]
    assert "<strong>Langkah selesai</strong>" in witnessed
    rt.close()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_hook_case_event_recorded_note(db, tmp_path):
    """``note`` writes the plugin's own event in the step's transaction; the engine's kinds are refused."""

    class Notes:
        @hookimpl
        def case_event_recorded(self, event, note):
            if event["kind"] == "case_started":
                note("probe_noted", "noted with the start", {"n": 1})
                note("task_completed", "a forged engine event")  # refused: drops this plugin's notes

    class Notes2:
        @hookimpl
        def case_event_recorded(self, event, note):
            if event["kind"] == "case_started":
                note("probe_noted", "kept", {"n": 2})

    class EveryEvent:
        @hookimpl
        def case_event_recorded(self, note):
            note("probe_every")  # also for the notes: never handed back, so no loop

    rt = _runtime(db, tmp_path, Notes(), Notes2(), EveryEvent())
    engine.deploy_bundled(rt)
    receipt = start_new_card(rt)["receipt"]
    events = engine.get_case(rt, receipt, actor(rt, "operator"))["events"]
    assert [e["kind"] for e in events].count("probe_every") == 1  # one for case_started, none for the notes
    noted = [(e["kind"], e["detail"], e["actor"]) for e in events if e["kind"] == "probe_noted"]
    assert len(noted) == 1 and noted[0][1] == "kept"
    assert [e["kind"] for e in events].count("task_completed") == 0
    engine.record_case_event(rt, receipt, "probe_noted", detail="later", by="probe")
    with pytest.raises(engine.InvalidInput):
        engine.record_case_event(rt, receipt, "case_cancelled", detail="forged")
    kinds = [e["kind"] for e in engine.get_case(rt, receipt, actor(rt, "operator"))["events"]]
    assert kinds.count("probe_noted") == 2 and "case_cancelled" not in kinds
    assert kinds.count("probe_every") == 2  # record_case_event's event is heard like any other
    rt.close()


#: what the engine alone records: each moves a case or the dashboard's figures (a plugin that wrote
#: "message_received" would count a card as arrived that never was)
COUNTED_KINDS = [
    "case_started",
    "task_completed",
    "service_completed",
    "message_received",
    "timer_fired",
    "case_cancelled",
    "case_reopened",
    "case_moved_back",
    "incident",
    "incident_retried",
]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_no_plugin_can_write_an_event_the_engine_counts(db, tmp_path):
    rt = _runtime(db, tmp_path)
    engine.deploy_bundled(rt)
    receipt = start_new_card(rt)["receipt"]
    before = engine.get_case(rt, receipt, actor(rt, "operator"))["events"]
    for kind in COUNTED_KINDS:
        with pytest.raises(engine.InvalidInput, match=kind):
            engine.record_case_event(rt, receipt, kind, detail="forged", by="probe")
    assert engine.get_case(rt, receipt, actor(rt, "operator"))["events"] == before
    rt.close()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_hook_office_summaries(db, tmp_path):
    from argon2 import PasswordHasher

    from simpul.web import create_app

    from .web.conftest import set_passwords
    from .web.web_helpers import PASSWORD, Browser, page_text

    seen = []

    class Remote:
        @hookimpl
        def office_summaries(self, runtime, actor):
            seen.append(actor.username)
            if not actor.has_role("regency_officer"):
                return []
            return [
                {
                    "office": "640299",
                    "name": "Kecamatan Jauh",
                    "as_of": "2026-03-02T02:00:00+00:00",
                    "weeks": [{"week": "2026-03-02", "started": 7, "breaches": 2}],
                    "open_by_step": [],
                    "open_total": 4,
                    "overdue_total": 1,
                    "incidents": 0,
                }
            ]

    rt = _runtime(db, tmp_path, Remote())
    engine.deploy_bundled(rt)
    set_passwords(rt, PasswordHasher().hash(PASSWORD))
    browser = Browser(create_app(runtime=rt, config={"TESTING": True}))
    browser.login("disdukcapil")
    text = page_text(browser.get("/dashboard"))
    assert "Kecamatan Jauh" in text and "Per " in text
    browser.logout()
    browser.login("camat")
    assert "Kecamatan Jauh" not in page_text(browser.get("/dashboard"))
    assert seen == ["disdukcapil", "camat"]
    rt.close()


def test_hook_run_due_work(db, tmp_path):
    """A regency's plugin with its own queue: the worker runs it at every pass, its count
    keeps the worker busy, and one plugin that raises stops neither the others nor the pass."""
    queue = ["a", "b"]
    done = []

    class Drains:
        @hookimpl
        def run_due_work(self, runtime):
            if not queue:
                return 0
            done.append(queue.pop(0))
            return 1

    class Broken:
        @hookimpl
        def run_due_work(self, runtime):
            raise RuntimeError("disk full")

    rt = _runtime(db, tmp_path, Drains(), Broken())
    try:
        assert engine.run_due(rt)["plugin_work"] == 1
        assert engine.run_due(rt)["plugin_work"] == 1
        assert engine.run_due(rt)["plugin_work"] == 0
        assert done == ["a", "b"]
    finally:
        rt.close()
