"""Acceptance of issue #6 in Chromium: an administrator adds a verifier step to the new-card
process in the modeler, is stopped by the missing form (shown on the element), binds a form,
deploys, migrates the running cases in bulk after a dry run, and a clerk then sees the new
step in a migrated case.  Every request that is not to the app's own origin is blocked: the
modeler must load with no network beyond the app."""

from __future__ import annotations

import os
import re
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from simpul.engine import deploy_bundled, directory

from ..conftest import OFFICE, make_runtime, seed_offices
from ..flows import DOCS_OK, complete, start_new_card

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "kata-sandi-123"
VENDOR = ROOT / "web" / "static" / "vendor" / "process-admin" / "modeler.js"

pytestmark = pytest.mark.browser


def _require(condition: bool, reason: str):
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (required in CI)")
    pytest.skip(reason)


@pytest.fixture
def live_app(sqlite_db, tmp_path):
    """The web app on a real HTTP port (a thread), on SQLite with the bundled processes."""
    _require(Path(CHROMIUM).is_file() or bool(shutil.which("chromium")), f"Chromium is not installed at {CHROMIUM}")
    _require(VENDOR.is_file(), "the modeler bundle is not built (run `npm ci && npm run build`)")
    try:
        from playwright.sync_api import sync_playwright  # noqa: F401
    except ImportError:  # pragma: no cover
        _require(False, "the playwright package is not installed")
    from argon2 import PasswordHasher
    from werkzeug.serving import make_server

    from simpul.engine.models import User
    from simpul.web import create_app

    rt = make_runtime(sqlite_db, tmp_path, locale="en")  # assertions read the English texts
    seed_offices(rt)
    deploy_bundled(rt, deployed_by="system")
    hashed = PasswordHasher().hash(PASSWORD)
    with rt.transaction() as uow:
        directory.create_user(uow.session, "admin", "Admin Proses", OFFICE, ["process_admin"])
        uow.session.flush()
        for user in uow.session.query(User):
            user.password_hash = hashed
    app = create_app(runtime=rt, config={"TESTING": False})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rt, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    rt.close()


def _login(page, base, username):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]:not(.small)")
    page.wait_for_url(lambda url: "/login" not in url)


@contextmanager
def offline_page(base: str, failure_png: str, bypass_csp: bool = False):
    """A Chromium page that may reach nothing but the app (the modeler must load with no
    network beyond it); yields (page, blocked URLs, page errors) and saves a screenshot if the
    test fails inside it.  ``bypass_csp`` lets axe-core be injected (tests/web/a11y.py)."""
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []
    page_errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(viewport={"width": 1500, "height": 1000}, bypass_csp=bypass_csp)

        def guard(route):
            url = route.request.url
            if url.startswith(base + "/") or url.startswith("data:") or url.startswith("blob:"):
                route.continue_()
            else:
                blocked.append(url)
                route.abort()

        context.route("**/*", guard)
        page = context.new_page()
        page.on("pageerror", lambda exc: page_errors.append(str(exc)))
        try:
            yield page, blocked, page_errors
        except Exception:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / failure_png), full_page=True)
            raise
        finally:
            context.close()
            browser.close()


ADD_TASK = """() => {
  const m = window.simpulModeler;
  const registry = m.get('elementRegistry'), modeling = m.get('modeling'), factory = m.get('elementFactory');
  const bo = m.get('bpmnFactory').create('bpmn:UserTask', { id: 'Task_field_check' });
  const shape = factory.createShape({ type: 'bpmn:UserTask', businessObject: bo });
  modeling.createShape(shape, { x: 470, y: 755 }, registry.get('Lane_verifier'));
  modeling.updateProperties(shape, { name: 'Pemeriksaan lapangan' });
  modeling.reconnectEnd(registry.get('Flow_documents_complete'), shape, { x: 420, y: 755 });
  modeling.connect(shape, registry.get('Task_residence_verification'));
  const lane = registry.get('Lane_verifier').businessObject;
  return (lane.flowNodeRef || []).some((n) => n.id === 'Task_field_check');
}"""


def test_admin_changes_the_process_and_migrates_running_cases(live_app):
    from playwright.sync_api import expect

    rt, base = live_app
    cases = [start_new_card(rt, n) for n in (1, 2)]
    ARTIFACTS.mkdir(exist_ok=True)
    with offline_page(base, "process-admin-failure.png") as (page, blocked, page_errors):
        _login(page, base, "admin")
        page.goto(f"{base}/admin/processes")
        expect(page.locator("#process-ektp_new_card tr[data-version='1'] .open-cases")).to_have_text("2")
        page.click("[data-test=edit-ektp_new_card]")
        expect(page.locator(".modeler")).to_have_attribute("data-state", "ready", timeout=20000)
        expect(page.locator(".djs-palette")).to_be_visible()
        expect(page.locator(".bio-properties-panel")).to_be_visible()

        # the admin adds a user task in the verifier lane, between the document check and
        # the residence verification
        assert page.evaluate(ADD_TASK) is True
        page.click("#btn-deploy")
        problem = page.locator("#problem-list li[data-shape=Task_field_check]")
        expect(problem).to_contain_text("has no form", timeout=15000)
        expect(page.locator(".djs-element.simpul-error[data-element-id=Task_field_check]")).to_have_count(1)
        expect(page.locator("#status")).to_contain_text("fix the problems")
        page.screenshot(path=str(ARTIFACTS / "process-admin-missing-form.png"), full_page=True)

        # binds the form in the properties panel's Simpul group
        problem.locator("a").click()
        header = page.locator(".bio-properties-panel-group-header", has_text="Simpul")
        expect(header).to_be_visible()
        if "open" not in (header.get_attribute("class") or ""):
            header.click()
        page.select_option("select[name=simpul-form]", "residence_verification")
        page.fill("input[name=simpul-name-en]", "Field check")
        page.keyboard.press("Tab")
        page.screenshot(path=str(ARTIFACTS / "process-admin-form-bound.png"), full_page=True)
        page.click("#btn-deploy")
        ask = page.locator("#deploy-dialog")  # asked first: what changes, what the open cases do
        expect(ask.locator(".preview-added li[data-element=Task_field_check]")).to_have_count(1, timeout=15000)
        expect(ask.locator(".preview-open")).to_contain_text("Open cases: 2")
        page.click("#deploy-confirm")
        expect(page.locator("#status")).to_contain_text("version 2", timeout=15000)
        expect(page.locator("#problems")).to_be_hidden()

        # dry run first, then migrate every case in one action
        page.click("#migrate-link")
        expect(page.locator("#btn-migrate-all")).to_be_visible()
        expect(page.locator(".version-diff[data-from='1'] .added")).to_have_text("Field check")
        for case in cases:
            expect(page.locator(f"tr[data-receipt='{case['receipt']}']")).to_contain_text("can migrate")
        page.screenshot(path=str(ARTIFACTS / "process-admin-dry-run.png"), full_page=True)
        page.click("#btn-migrate-all")
        for case in cases:
            expect(page.locator(f"#migration-result tr[data-receipt='{case['receipt']}'] .outcome")).to_have_text(
                "migrated"
            )
        page.screenshot(path=str(ARTIFACTS / "process-admin-migrated.png"), full_page=True)

        # the migration is in the case's timeline
        page.goto(f"{base}/cases/{cases[0]['receipt']}")
        expect(page.locator("main")).to_contain_text("v1 → v2")

        # a clerk: the document check is done, and the verifier sees the new step
        complete(rt, cases[0]["receipt"], "operator", DOCS_OK)
        page.click("header form button.secondary")  # sign out
        _login(page, base, "verifier")
        page.goto(f"{base}/inbox")
        expect(page.locator("main")).to_contain_text("Field check")
        expect(page.locator("main")).to_contain_text(cases[0]["receipt"])
        page.screenshot(path=str(ARTIFACTS / "process-admin-clerk-new-step.png"), full_page=True)

    assert blocked == [], f"the pages asked for resources outside the app: {blocked}"
    assert page_errors == [], page_errors


SELECT_TASK = """(id) => {
  const m = window.simpulModeler;
  m.get('selection').select(m.get('elementRegistry').get(id));
  return m.get('selection').get().length;
}"""


def test_admin_creates_a_new_form_for_a_task_and_deploys_it(live_app):
    """A new form key made in the Simpul group opens the form editor on an empty form; the
    field added there is saved with the draft and deployed with the version."""
    from playwright.sync_api import expect

    from simpul.engine import Actor, drafts

    rt, base = live_app
    with offline_page(base, "process-admin-new-form-failure.png") as (page, blocked, page_errors):
        _login(page, base, "admin")
        page.goto(f"{base}/admin/processes/ektp_new_card/edit")
        expect(page.locator(".modeler")).to_have_attribute("data-state", "ready", timeout=20000)
        assert page.evaluate(ADD_TASK) is True
        assert page.evaluate(SELECT_TASK, "Task_field_check") == 1
        header = page.locator(".bio-properties-panel-group-header", has_text="Simpul")
        expect(header).to_be_visible()
        if "open" not in (header.get_attribute("class") or ""):
            header.click()
        new_key = page.locator("input[name=simpul-new-form]")
        create = page.locator(".simpul-new-form .simpul-create-form")
        error = page.locator(".simpul-new-form [role=alert]")

        # refused: not snake_case, then the key of an existing form
        new_key.fill("Field Check")
        create.click()
        expect(error).to_contain_text("snake_case")
        new_key.fill("residence_verification")
        create.click()
        expect(error).to_contain_text("already exists")
        expect(page.locator("#form-dialog")).not_to_be_visible()

        # a new key opens the form editor on an empty form
        new_key.fill("field_check")
        new_key.press("Enter")
        dialog = page.locator("#form-dialog")
        expect(dialog).to_be_visible()
        expect(page.locator("#form-dialog-key")).to_have_text("field_check")
        expect(error).to_have_count(0)
        palette = page.locator("#form-editor .fjs-palette-field[data-field-type=textfield]")
        expect(palette).to_be_visible()
        expect(page.locator("#form-editor .fjs-form-field-textfield")).to_have_count(0)
        palette.focus()
        palette.press("Enter")
        expect(page.locator("#form-editor .fjs-form-field-textfield")).to_have_count(1)
        page.screenshot(path=str(ARTIFACTS / "process-admin-new-form.png"), full_page=True)
        page.click("#form-apply")
        expect(dialog).not_to_be_visible()
        expect(page.locator("select[name=simpul-form]")).to_have_value("field_check")
        page.fill("input[name=simpul-name-en]", "Field check")
        page.keyboard.press("Tab")

        page.click("#btn-deploy")
        page.click("#deploy-confirm")
        expect(page.locator("#status")).to_contain_text("version 2", timeout=15000)
        expect(page.locator("#problems")).to_be_hidden()

    assert blocked == [], f"the pages asked for resources outside the app: {blocked}"
    assert page_errors == [], page_errors
    # the deployed version carries the new form with the field added in the editor
    opened = drafts.open_process(rt, Actor("admin", OFFICE, frozenset({"process_admin"})), "ektp_new_card")
    assert opened["version"]["version"] == 2
    form = opened["forms"]["field_check"]
    assert [c["type"] for c in form["components"]] == ["textfield"]
    assert form["components"][0]["key"]


DELETE_SEND = """() => {
  const m = window.simpulModeler;
  const registry = m.get('elementRegistry'), modeling = m.get('modeling');
  const send = registry.get('Service_send_to_regency');
  modeling.removeElements([send]);  // bpmn-js joins the flows around it, as in the issue
  const out = registry.get('Task_biometric_recording').outgoing;
  if (!out.length) { modeling.connect(registry.get('Task_biometric_recording'), registry.get('Receive_card_printed')); }
  return !registry.get('Service_send_to_regency');
}"""


def test_deleting_the_send_to_the_regency_is_shown_and_needs_a_confirmation(live_app):
    """Issue 14 item 4: deleting "Kirim ke Disdukcapil" and pressing "Simpan dan pasang" shows
    the difference from the deployed version, what the open cases do and that the process no
    longer sends anything; cancelling deploys nothing, confirming deploys version 2."""
    from playwright.sync_api import expect

    from simpul.engine import drafts

    rt, base = live_app
    start_new_card(rt, 1)
    with offline_page(base, "process-admin-lost-service-failure.png") as (page, blocked, page_errors):
        _login(page, base, "admin")
        page.select_option("#lang-select", "id")
        page.click("form.lang button")
        page.goto(f"{base}/admin/processes/ektp_new_card/edit")
        expect(page.locator(".modeler")).to_have_attribute("data-state", "ready", timeout=20000)
        assert page.evaluate(DELETE_SEND) is True
        page.get_by_role("button", name="Simpan dan pasang").click()
        ask = page.locator("#deploy-dialog")
        expect(ask).to_be_visible(timeout=15000)
        expect(ask.locator("#deploy-dialog-title")).to_have_text("Pasang versi 2?")
        lost = ask.locator(".preview-lost")
        expect(lost).to_contain_text("Tugas layanan Kirim ke Disdukcapil hilang")
        expect(ask.locator(".preview-removed li[data-element=Service_send_to_regency]")).to_have_count(1)
        expect(ask.locator(".preview-open")).to_contain_text("Permohonan terbuka: 1")
        expect(ask.locator(".preview-open")).to_contain_text("tetap pada versi awalnya")
        page.set_viewport_size({"width": 1366, "height": 900})
        page.screenshot(path=str(ARTIFACTS / "traps-04-deploy-preview-1366.png"))
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(ARTIFACTS / "traps-04-deploy-preview-390.png"))
        page.set_viewport_size({"width": 1500, "height": 1000})
        page.get_by_role("button", name="Batal").click()
        expect(ask).to_be_hidden()
        expect(page.locator("#status")).to_contain_text("Tidak dipasang")
        assert drafts.version_xml(rt, "ektp_new_card")[1] == 1  # nothing deployed

        page.get_by_role("button", name="Simpan dan pasang").click()
        expect(ask).to_be_visible(timeout=15000)
        page.get_by_role("button", name="Pasang versi 2").click()
        expect(page.locator("#status")).to_contain_text("versi 2", timeout=15000)
    assert blocked == [] and page_errors == [], (blocked, page_errors)
    assert drafts.version_xml(rt, "ektp_new_card")[1] == 2


GET_DUE = """(id) => {
  const bo = window.simpulModeler.get('elementRegistry').get(id).businessObject;
  const ext = (bo.extensionElements && bo.extensionElements.values) || [];
  const props = ext.find((e) => e.$type === 'spiffworkflow:Properties');
  const due = props && (props.properties || []).find((p) => p.name === 'dueIn');
  return due ? due.value : null;
}"""


def test_the_modeler_speaks_indonesian_and_takes_a_due_date_in_days(live_app):
    """Issue 14 item 10: the palette, the context pad and the properties panel in Indonesian;
    the due date is a number of days (stored as P3D), never typed as ISO 8601; a problem names
    the element by its label, not its id."""
    from playwright.sync_api import expect

    rt, base = live_app
    with offline_page(base, "process-admin-indonesian-failure.png") as (page, blocked, page_errors):
        _login(page, base, "admin")
        page.select_option("#lang-select", "id")
        page.click("form.lang button")
        page.goto(f"{base}/admin/processes/ektp_new_card/edit")
        expect(page.locator(".modeler")).to_have_attribute("data-state", "ready", timeout=20000)
        palette = page.locator(".djs-palette")
        expect(palette.get_by_role("button", name="Buat tugas", exact=True)).to_have_count(1)
        expect(palette.get_by_role("button", name="Buat gerbang", exact=True)).to_have_count(1)
        assert page.evaluate(SELECT_TASK, "Task_document_check") == 1
        pad = page.locator(".djs-context-pad .entry[title='Tambahkan tugas']")
        expect(pad).to_have_count(1)
        expect(page.locator(".bio-properties-panel-group-header", has_text="Umum")).to_be_visible()
        header = page.locator(".bio-properties-panel-group-header", has_text="Simpul")
        if "open" not in (header.get_attribute("class") or ""):
            header.click()
        days = page.get_by_label("Batas waktu (hari)")
        expect(days).to_have_value("1")  # the bundled P1D
        expect(page.locator("input[name=simpul-due]")).to_have_count(0)  # no ISO text to type
        days.fill("3")
        days.blur()
        page.wait_for_function(f"() => ({GET_DUE})('Task_document_check') === 'P3D'")
        page.set_viewport_size({"width": 1366, "height": 900})
        page.screenshot(path=str(ARTIFACTS / "modeler-indonesian-1366.png"))
        # the form editor's palette too
        page.click("#btn-form")
        expect(page.locator("#form-dialog")).to_be_visible()
        field = page.locator("#form-editor .fjs-palette-field[data-field-type=textfield]")
        expect(field).to_contain_text("Kolom teks")
        expect(page.locator("#form-editor .fjs-palette-field[data-field-type=radio]")).to_contain_text("Grup pilihan")
        page.screenshot(path=str(ARTIFACTS / "form-editor-indonesian-1366.png"))
        page.keyboard.press("Escape")
        expect(page.locator("#form-dialog")).not_to_be_visible()

        # a problem names the step as the administrator sees it
        assert page.evaluate(ADD_TASK) is True
        page.click("#btn-deploy")
        problem = page.locator("#problem-list li[data-shape=Task_field_check]")
        expect(problem.locator("a")).to_have_text("Pemeriksaan lapangan", timeout=15000)
        page.screenshot(path=str(ARTIFACTS / "modeler-problem-by-label-1366.png"))
    assert blocked == [] and page_errors == [], (blocked, page_errors)


# English texts of the form-js editor that an administrator editing a text field, a checkbox,
# a select and a number field would meet if a translation were missing ("Label" and "Minimum"
# are the same words in Indonesian)
FORM_EDITOR_ENGLISH = (
    "Components", "Search components", "Input", "Selection", "Presentation", "Containers", "Action",
    "Text field", "Text area", "Number", "Checkbox", "Checkbox group", "Radio group", "Select",
    "Date time", "File picker", "Text view", "Image view", "Spacer", "Separator", "Button",
    "General", "Condition", "Layout", "Appearance", "Validation", "Serialization", "Constraints",
    "Options source", "Static options", "Custom properties", "Field label", "Field description",
    "Key", "Binds to a form variable", "Default value", "Disabled", "Read only", "Searchable",
    "Hide if", "Condition under which the field is hidden", "Columns", "Auto", "Prefix", "Suffix",
    "Required", "Minimum length", "Maximum length", "Validation pattern", "Maximum",
    "Decimal digits", "Increment", "Output as string", "Checked", "Not checked", "Static",
    "Input data", "Value", "Toggle section", "Section contains edits", "Toggle list item",
    "Create new list item", "Delete item", "FEEL expression is mandatory", "Open pop-up editor",
    "Click to set a dynamic value with FEEL expression", "Must be a variable or a dot separated path.",
    "Select a form field to edit its properties.", "Use this form", "Cancel", "Form",
)  # fmt: skip

# the texts of the form editor's own parts: the palette and the properties panel (not the form
# being edited, nor what the administrator typed)
EDITOR_TEXTS = """() => {
  const out = [];
  const parts = ['.fjs-palette', '.fjs-properties-panel', '> h2', '.dialog-actions']
    .map((p) => '#form-dialog ' + p).join(', ');
  const skip = ['.bio-properties-panel-header-label', '.bio-properties-panel-collapsible-entry-header-title',
    '.cm-editor', 'code', 'option:not(:checked)'].join(', ');
  document.querySelectorAll(parts).forEach((root) => {
    const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    let node;
    while ((node = walk.nextNode())) {
      const parent = node.parentElement;
      if (!node.data.trim() || parent.closest(skip)) { continue; }
      const style = getComputedStyle(parent);
      if (style.display === 'none' || style.visibility === 'hidden' || !parent.getClientRects().length) { continue; }
      out.push(node.data.trim());
    }
    root.querySelectorAll('[placeholder], [title], [aria-label]').forEach((e) => {
      ['placeholder', 'title', 'aria-label'].forEach((a) => {
        if (e.getAttribute(a)) { out.push(e.getAttribute(a)); }
      });
    });
  });
  return out;
}"""

OPEN_GROUPS = """() => {
  document.querySelectorAll('#form-editor .bio-properties-panel-group-header:not(.open)').forEach((h) => h.click());
}"""


def _english_left(page) -> list[str]:
    texts = page.evaluate(EDITOR_TEXTS)
    return sorted({t for t in texts if t in FORM_EDITOR_ENGLISH})


def test_the_form_editor_speaks_indonesian(live_app):
    """Issue 14 item 10: the form-js editor an administrator meets on a user task's form is in
    Indonesian -- the palette (search, groups), the properties panel (groups, labels, their
    descriptions and validation messages) -- at 1366 and 390 px, with no English left among
    the library's known texts, and the open dialog passes axe."""
    from playwright.sync_api import expect

    from ..web.a11y import assert_accessible

    rt, base = live_app
    with offline_page(base, "form-editor-indonesian-failure.png", bypass_csp=True) as (page, blocked, page_errors):
        _login(page, base, "admin")
        page.select_option("#lang-select", "id")
        page.click("form.lang button")
        page.goto(f"{base}/admin/processes/ektp_new_card/edit")
        expect(page.locator(".modeler")).to_have_attribute("data-state", "ready", timeout=20000)
        assert page.evaluate(SELECT_TASK, "Task_residence_verification") == 1
        page.click("#btn-form")
        dialog = page.locator("#form-dialog")
        expect(dialog).to_be_visible()
        editor = page.locator("#form-editor")
        panel = editor.locator(".fjs-properties-panel")
        editor.locator(".fjs-element[data-field-type=textfield]").first.click()
        for width, height in ((1366, 900), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            expect(panel.locator(".bio-properties-panel-header-type")).to_have_text("Kolom teks")

            # the palette
            expect(editor.locator(".fjs-palette-header")).to_have_text("Komponen")
            expect(editor.locator(".fjs-palette-search")).to_have_attribute("placeholder", "Cari komponen")
            expect(editor.locator(".fjs-palette-group-title")).to_have_text(
                ["Isian", "Pilihan", "Penyajian", "Wadah", "Tindakan"]
            )
            expect(editor.locator(".fjs-palette-field[data-field-type=textfield]")).to_have_attribute(
                "title", "Buat elemen Kolom teks"
            )

            # the properties panel: its groups, then the labels in each, open
            expect(panel.locator(".bio-properties-panel-group-header-title")).to_have_text(
                ["Umum", "Kondisi", "Tata letak", "Tampilan", "Validasi", "Properti khusus"]
            )
            page.evaluate(OPEN_GROUPS)
            for label in ("Label kolom", "Keterangan kolom", "Kunci", "Nilai bawaan", "Sembunyikan jika"):
                expect(panel.get_by_label(label, exact=True).first).to_be_visible()
            for label in ("Wajib diisi", "Panjang minimum", "Panjang maksimum", "Pola validasi", "Awalan"):
                expect(panel.locator(".bio-properties-panel-label", has_text=label).first).to_be_visible()
            expect(
                panel.locator(".bio-properties-panel-description", has_text="Terikat ke variabel formulir")
            ).to_be_visible()
            expect(panel.locator(".bio-properties-panel-group-header-button").first).to_have_attribute(
                "title", "Buka/tutup bagian"
            )
            assert _english_left(page) == []
            page.screenshot(path=str(ARTIFACTS / f"form-editor-indonesian-textfield-{width}.png"))
            if width < 1000:  # a phone: the panel is reached by scrolling the editor sideways
                panel.locator(".bio-properties-panel-header").scroll_into_view_if_needed()
                box = panel.bounding_box()
                assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, box
                page.screenshot(path=str(ARTIFACTS / f"form-editor-indonesian-textfield-{width}-panel.png"))

        # a key that is not a variable: the panel says so in Indonesian
        page.set_viewport_size({"width": 1366, "height": 900})
        key = panel.locator("input[name=key]")
        key.fill("dua kata")
        expect(panel.locator(".bio-properties-panel-error")).to_have_text(
            "Harus berupa nama variabel atau jalur yang dipisah titik."
        )
        assert _english_left(page) == []
        page.screenshot(path=str(ARTIFACTS / "form-editor-indonesian-key-error-1366.png"))
        key.fill("kelurahan_officer")

        # a checkbox, a select with its options and a number field, added from the palette
        names = {"checkbox": "Kotak centang", "select": "Daftar pilihan", "number": "Angka"}
        for field_type, groups, labels in (
            ("checkbox", ["Umum", "Kondisi", "Tata letak", "Validasi", "Properti khusus"], ["Nilai bawaan"]),
            (
                "select",
                ["Umum", "Sumber pilihan", "Pilihan tetap", "Kondisi", "Tata letak", "Validasi", "Properti khusus"],
                ["Bisa dicari", "Jenis"],
            ),
            (
                "number",
                ["Umum", "Kondisi", "Tata letak", "Tampilan", "Serialisasi", "Validasi", "Properti khusus"],
                ["Digit desimal", "Kelipatan", "Minimum", "Maksimum", "Keluaran sebagai teks"],
            ),
        ):
            entry = editor.locator(f".fjs-palette-field[data-field-type={field_type}]")
            entry.focus()
            entry.press("Enter")
            added = editor.locator(f".fjs-element[data-field-type={field_type}]").last
            # labelled with the type's name in Indonesian
            expect(added.locator(".fjs-form-field-label")).to_have_text(names[field_type])
            added.click()
            expect(panel).to_have_attribute("data-field", re.compile(r"\S"))
            expect(panel.locator(".bio-properties-panel-group-header-title")).to_have_text(groups)
            page.evaluate(OPEN_GROUPS)
            for label in labels:
                expect(panel.locator(".bio-properties-panel-label", has_text=label).first).to_be_visible()
            assert _english_left(page) == [], field_type
            page.screenshot(path=str(ARTIFACTS / f"form-editor-indonesian-{field_type}-1366.png"))
        # the select's list of options: its button to add one
        editor.locator(".fjs-element[data-field-type=select]").last.click()
        options = panel.locator(".bio-properties-panel-group").filter(
            has=page.locator(".bio-properties-panel-group-header-title", has_text="Pilihan tetap")
        )
        expect(options.locator("button[title='Tambah butir daftar']")).to_have_count(1)

        assert_accessible(page, "the form editor dialog (Indonesian)", within="#form-dialog")
    assert blocked == [] and page_errors == [], (blocked, page_errors)
