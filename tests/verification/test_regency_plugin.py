"""The Kutai Kartanegara plugin, pip-installed as a regency would: while it is installed the
checklist, the document-check step, ``simpul requirements`` and ``simpul plugins`` follow
it, with no change to the core; uninstalled, the national baseline returns.

How it is installed (``SIMPUL_TEST_PLUGIN_INSTALL``):

* ``target`` (the default): ``pip install --target`` into a temporary directory that is put on
  ``sys.path`` (and ``PYTHONPATH`` for the ``simpul`` subprocesses) while "installed" -- the
  same wheel and entry-point metadata, but the venv, which the suite's other tests (and, with
  pytest-xdist, other test processes at the same moment) use, never sees the plugin, even if
  this run is killed half-way;
* ``venv``: ``pip install`` into this test environment, then ``pip uninstall``, exactly as a
  regency's administrator does -- only for a run of this module alone.

The rest of the suite runs with the plugin installed (tests/regency_plugin.py); this module takes
that copy off the path while it runs, so "uninstalled" means uninstalled.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from simpul import engine
from simpul.engine import ValidationFailed, deploy_bundled
from simpul.engine.cases import requirements_for

from .. import regency_plugin
from ..conftest import make_runtime, seed_offices
from ..flows import actor, open_task, resident

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "simpul-kutai-kartanegara"
DIST = "simpul-kutai-kartanegara"
MODE = os.environ.get("SIMPUL_TEST_PLUGIN_INSTALL") or "target"
SIMPUL = Path(sys.executable).with_name("simpul")


def _installed_in_environment() -> bool:
    importlib.invalidate_caches()
    try:
        importlib.metadata.distribution(DIST)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


class Installer:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.target = workdir / "site-packages"
        self.installed = False

    def _pip(self, *args):
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, f"pip {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
        # a regency's administrator installing it sees no packaging warning
        assert "Warning" not in proc.stdout + proc.stderr.replace("WARNING: Location", ""), proc.stderr

    def install(self):
        source = self.workdir / "source"
        shutil.rmtree(source, ignore_errors=True)
        # Build from a copy so the checkout gets no build/ or *.egg-info.
        shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        if MODE == "venv":
            self._pip("install", "--no-deps", str(source))
        else:
            self._pip("install", "--no-deps", "--target", str(self.target), str(source))
            sys.path.insert(0, str(self.target))
        self.installed = True
        importlib.invalidate_caches()

    def uninstall(self):
        if not self.installed:
            return
        if MODE == "venv":
            self._pip("uninstall", "--yes", DIST)
        else:
            while str(self.target) in sys.path:
                sys.path.remove(str(self.target))
            shutil.rmtree(self.target, ignore_errors=True)
        for name in [m for m in sys.modules if m == "simpul_kukar" or m.startswith("simpul_kukar.")]:
            del sys.modules[name]
        self.installed = False
        importlib.invalidate_caches()

    def env(self, workdir: Path) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}
        env.update(SIMPUL_INSTANCE_PATH=str(workdir / "instance"), SIMPUL_LOCALE="id")
        if MODE == "target" and self.installed:
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(self.target), env.get("PYTHONPATH")) if p)
        return env


@pytest.fixture(scope="module", autouse=True)
def _suite_copy_off_the_path():
    with regency_plugin.off_the_path():
        yield


@pytest.fixture(scope="module")
def kukar(tmp_path_factory, _suite_copy_off_the_path):
    if _installed_in_environment():
        if MODE != "venv":
            pytest.fail(
                f"{DIST} is installed in this environment; `pip uninstall {DIST}` first "
                "(the tests install it themselves)"
            )
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "--yes", DIST], capture_output=True, check=True)
    installer = Installer(tmp_path_factory.mktemp("kukar"))
    try:
        yield installer
    finally:
        installer.uninstall()


def simpul(installer: Installer, workdir: Path, *args) -> subprocess.CompletedProcess:
    command = [str(SIMPUL)] if SIMPUL.exists() else [sys.executable, "-c", "import cli; cli.run()"]
    proc = subprocess.run(
        [*command, *args], capture_output=True, text=True, cwd=workdir, env=installer.env(workdir), timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def node(db, tmp_path, name):
    rt = make_runtime(db, tmp_path / name)
    seed_offices(rt)
    deploy_bundled(rt, deployed_by="test")
    return rt


def lost_card_keys(rt):
    return [r["key"] for r in requirements_for(rt, "ektp_replacement", {"reason": "lost"})]


def cli_keys(installer, workdir):
    proc = simpul(installer, workdir, "requirements", "ektp_replacement", "--data", '{"reason": "lost"}', "--json")
    return [r["key"] for r in json.loads(proc.stdout)]


def cli_plugins(installer, workdir):
    return {r["name"]: r for r in json.loads(simpul(installer, workdir, "plugins", "--json").stdout)}


def test_police_letter_is_required_for_a_lost_card_only_while_installed(kukar, db, tmp_path):
    # -- before: the national baseline asks nothing for a lost card
    rt = node(db, tmp_path, "before")
    assert lost_card_keys(rt) == []
    assert cli_keys(kukar, tmp_path) == []
    assert "kukar" not in cli_plugins(kukar, tmp_path)
    rt.close()

    # -- installed: the regency's rules, with no change to the core
    kukar.install()
    rt = node(db, tmp_path, "installed")
    try:
        assert lost_card_keys(rt) == ["rt_rw_letter", "photos", "family_card", "police_letter"]
        police = next(
            r for r in requirements_for(rt, "ektp_replacement", {"reason": "lost"}) if r["key"] == "police_letter"
        )
        assert police["source"] == "kukar"
        assert rt.gettext("id")(police["label"]) == "Surat keterangan kehilangan dari Kepolisian"

        receipt = engine.start_case(rt, "ektp_replacement", resident(1, reason="lost"), actor(rt, "operator"))[
            "receipt"
        ]
        task = engine.get_task(rt, open_task(rt, receipt, "operator")["id"], actor(rt, "operator"))
        assert "police_letter" in [r["key"] for r in task["requirements"]]
        ticked = ["rt_rw_letter", "photos", "family_card"]
        with pytest.raises(ValidationFailed) as err:
            engine.complete_task(
                rt, task["id"], {"documents_complete": True, "documents_received": ticked}, actor(rt, "operator")
            )
        assert err.value.errors == {
            "documents_received": [
                "Required document missing: Police report of the lost card (surat keterangan kehilangan)"
            ]
        }
        done = engine.complete_task(
            rt,
            task["id"],
            {"documents_complete": True, "documents_received": ticked + ["police_letter"]},
            actor(rt, "operator"),
        )
        assert done["open_tasks"][0]["step"] != "Task_document_check"
    finally:
        rt.close()

    assert cli_keys(kukar, tmp_path) == ["rt_rw_letter", "photos", "family_card", "police_letter"]
    text = simpul(kukar, tmp_path, "requirements", "ektp_replacement", "--data", '{"reason": "lost"}').stdout
    assert "Surat keterangan kehilangan dari Kepolisian" in text and "kukar" in text
    row = cli_plugins(kukar, tmp_path)["kukar"]
    assert row["version"] == "1.0.0" and row["distribution"] == DIST and row["builtin"] is False
    assert row["hooks"] == ["document_requirements", "plugin_settings", "translation_dirs"]

    # -- uninstalled: the baseline returns
    kukar.uninstall()
    rt = node(db, tmp_path, "after")
    try:
        assert lost_card_keys(rt) == []
        receipt = engine.start_case(rt, "ektp_replacement", resident(2, reason="lost"), actor(rt, "operator"))[
            "receipt"
        ]
        done = engine.complete_task(
            rt, open_task(rt, receipt, "operator")["id"], {"documents_complete": True}, actor(rt, "operator")
        )
        assert done["open_tasks"][0]["step"] != "Task_document_check"
    finally:
        rt.close()
    assert cli_keys(kukar, tmp_path) == []
    assert "kukar" not in cli_plugins(kukar, tmp_path)


def test_the_example_plugin_own_tests_pass():
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_with_the_plugin_installed_pages_and_cli_stay_indonesian(kukar, db, tmp_path):
    """Issue 14 item 3: installing the regency plugin once turned the checklist labels English
    on the pages (the CLI showed Indonesian) and every plural English ("4 documents are still
    missing.", "7 tasks").  Its catalogue is a .po with its own Plural-Forms: it joins the core
    catalogue without changing how a core string is translated."""
    from argon2 import PasswordHasher

    from simpul.web import create_app

    from ..web.conftest import set_passwords
    from ..web.web_helpers import PASSWORD, Browser, page_text

    kukar.install()
    rt = node(db, tmp_path, "pages")
    try:
        set_passwords(rt, PasswordHasher().hash(PASSWORD))
        operator = actor(rt, "operator")
        receipts = [
            engine.start_case(rt, "ektp_replacement", resident(n, reason="lost"), operator)["receipt"]
            for n in range(1, 8)
        ]
        browser = Browser(create_app(runtime=rt, config={"TESTING": True}))
        browser.login("operator")
        inbox = page_text(browser.get("/inbox"))
        assert "7 tugas" in inbox and "7 tasks" not in inbox

        task = open_task(rt, receipts[0], "operator")
        page = browser.get(f"/tasks/{task['id']}")
        text = page_text(page)
        # the plugin's labels, from its catalogue; the core's own label of the same msgid unchanged
        assert "Surat keterangan kehilangan dari Kepolisian — belum ada" in text
        assert "Surat pengantar RT/RW" in text and "Pas foto 3×4 cm tiga lembar, latar putih" in text
        assert "Kartu Keluarga (KK)" in text and "Family card" not in text
        assert "4 berkas masih kurang." in text and "documents are still missing" not in text

        refused = browser.post(
            f"/tasks/{task['id']}",
            {
                "version": str(task["version"]),
                "documents_complete": "on",
                "documents_received": ["rt_rw_letter", "photos", "family_card"],
            },
        )
        assert refused.status_code == 422
        assert "Berkas persyaratan belum ada: Surat keterangan kehilangan dari Kepolisian" in page_text(refused)

        browser.language("en")
        text = page_text(browser.get(f"/tasks/{task['id']}"))
        assert "4 documents are still missing." in text
        assert "Police report of the lost card (surat keterangan kehilangan) — missing" in text
    finally:
        rt.close()

    table = simpul(kukar, tmp_path, "requirements", "ektp_replacement", "--data", '{"reason": "lost"}').stdout
    assert "Surat pengantar RT/RW" in table and "Kartu Keluarga (KK)" in table and "Family card" not in table


@pytest.mark.browser
@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_lost_card_replacement_walked_in_chromium_with_the_plugin_installed(kukar, db, tmp_path):
    """Acceptance of issue 14: with the Kutai Kartanegara plugin installed, a clerk takes a
    lost-card application in Chromium (Indonesian), is asked for the police letter the plugin
    adds, uploads its scan, completes the check; the card comes back from the regency and is
    received and handed over on the pages.  Screenshots: test-artifacts/kukar-*.png."""
    import io
    import threading

    from argon2 import PasswordHasher
    from PIL import Image
    from playwright.sync_api import expect
    from werkzeug.serving import make_server

    from simpul.engine import list_tasks
    from simpul.web import create_app

    from ..flows import run_worker_until_quiet
    from ..web.a11y import assert_accessible
    from ..web.conftest import set_passwords
    from ..web.test_web_browser import PHONE, no_horizontal_scroll, shot, sign_in
    from ..web.web_helpers import PASSWORD

    kukar.install()
    rt = node(db, tmp_path, "walk")
    set_passwords(rt, PasswordHasher().hash(PASSWORD))
    server = make_server("127.0.0.1", 0, create_app(runtime=rt, config={"TESTING": True}), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    scan = io.BytesIO()
    Image.new("RGB", (600, 800), "white").save(scan, "PNG")
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = browser.new_context(
                viewport={"width": 1366, "height": 900}, locale="id-ID", bypass_csp=True
            ).new_page()
            sign_in(page, base, "operator")
            page.goto(f"{base}/cases/new/ektp_replacement")
            data = resident(1, reason="lost")
            for key in ("nik", "resident_name", "birth_place", "kk_number", "address", "rt", "rw", "kelurahan"):
                page.locator(f'.step-form [name="{key}"]').fill(data[key])
            page.locator('.step-form [name="birth_date"]').fill(data["birth_date"])
            page.get_by_label("Perempuan").check()
            page.locator('.step-form [name="marital_status"]').select_option("belum_kawin")
            page.get_by_role("radio", name="Hilang").check()
            shot(page, "kukar-01-application-1366")
            page.get_by_role("button", name="Buat permohonan").click()
            page.wait_for_url(lambda url: "/cases/new" not in url)
            receipt = [t for t in list_tasks(rt, actor(rt, "operator")) if t["nik"] == data["nik"]][0]["receipt"]

            # the document check asks for the plugin's police letter
            task = open_task(rt, receipt, "operator")
            page.goto(f"{base}/tasks/{task['id']}")
            checklist = page.locator("#checklist")
            expect(checklist).to_contain_text("Surat keterangan kehilangan dari Kepolisian")
            assert_accessible(page, "kukar task")
            shot(page, "kukar-02-document-check-1366")
            page.get_by_role("link", name="Unggah atau lihat hasil pindaian").click()
            row = page.locator("#req-police_letter")
            row.locator('input[type="file"]').set_input_files(
                {"name": "surat-polisi.png", "mimeType": "image/png", "buffer": scan.getvalue()}
            )
            row.get_by_role("button", name="Unggah").click()
            expect(page.locator("#upload-message")).to_have_text("Berkas diunggah.")
            page.get_by_role("link", name="Kembali ke langkah: Pemeriksaan berkas").click()
            expect(page.locator('#checklist [data-requirement="police_letter"]')).to_contain_text("pindaian")
            for key in ("rt_rw_letter", "photos", "family_card"):
                page.locator(f'input[name="documents_received"][value="{key}"]').check()
            page.get_by_label("Semua berkas lengkap").check()
            page.get_by_role("button", name="Selesaikan langkah").click()
            expect(page.locator(".alert-success")).to_contain_text("Pemeriksaan berkas")

            # identity match on the page, the regency's part through the engine
            task = open_task(rt, receipt, "operator", step="Task_identity_match")
            page.goto(f"{base}/tasks/{task['id']}")
            page.get_by_label("Cocok dengan database kependudukan: lanjut").check()
            page.get_by_role("button", name="Selesaikan langkah").click()
            run_worker_until_quiet(rt)
            printing = [t for t in list_tasks(rt, actor(rt, "disdukcapil")) if t["nik"] == data["nik"]][0]["receipt"]
            for step_data in (
                {"data_complete": True},
                {"enrolment_result": "PRINT_READY_RECORD"},
                {"blank_in_stock": True},
                {"card_serial": "KTP-0001"},
            ):
                task = open_task(rt, printing, "disdukcapil")
                engine.complete_task(rt, task["id"], step_data, actor(rt, "disdukcapil"))
            run_worker_until_quiet(rt)

            # the card arrives and is handed over on the pages
            task = open_task(rt, receipt, "operator", step="Task_receive_card")
            page.goto(f"{base}/tasks/{task['id']}")
            page.get_by_label("Kartu sudah diterima di kantor", exact=False).check()
            page.get_by_role("button", name="Selesaikan langkah").click()
            task = open_task(rt, receipt, "operator", step="Task_handover")
            page.goto(f"{base}/tasks/{task['id']}")
            for box in page.locator('.step-form input[type="checkbox"]').all():
                box.check()
            page.get_by_label("Nama penerima", exact=False).fill("Warga 1")
            page.get_by_role("button", name="Selesaikan langkah").click()
            page.goto(f"{base}/cases/{receipt}")
            expect(page.locator("#timeline")).to_contain_text("Penyerahan KTP-el")
            assert engine.get_case(rt, receipt, actor(rt, "operator"))["status"] == "completed"
            shot(page, "kukar-03-case-done-1366")
            page.set_viewport_size(PHONE)
            shot(page, "kukar-03-case-done-390")
            assert no_horizontal_scroll(page)
            browser.close()
    finally:
        server.shutdown()
        rt.close()
