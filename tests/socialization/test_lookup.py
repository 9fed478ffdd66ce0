"""The public status lookup: the right receipt and code show where the case is in the
resident's terms; anything else shows one refusal and nothing about any case."""

from __future__ import annotations

import json
import re

import pytest

from simpul import engine

from ..conftest import OTHER_OFFICE
from ..flows import (
    BIOMETRICS,
    CARD_ARRIVED,
    DOCS_OK,
    HANDOVER,
    VERIFIED,
    actor,
    complete,
    run_worker_until_quiet,
    start_new_card,
)
from ..flows import resident as resident_data


def _code(rt, receipt):
    return engine.get_case(rt, receipt, actor(rt, "operator"))["lookup_code"]


def _status(client, receipt, code, lang="id"):
    prefix = "/en" if lang == "en" else ""
    return client.get(f"{prefix}/cek", query_string={"receipt": receipt, "code": code})


def _api(client, receipt, code):
    return client.get("/api/v1/public/status", query_string={"receipt": receipt, "code": code})


def _stage(client, receipt, code):
    response = _api(client, receipt, code)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


@pytest.mark.national_checklist  # the documents missing are the national checklist's
def test_the_resident_follows_the_case_from_counter_to_handover(runtime, app):
    client = app.test_client()
    receipt = start_new_card(runtime)["receipt"]
    code = _code(runtime, receipt)
    assert _stage(client, receipt, code)["stage"] == "received"

    complete(runtime, receipt, "operator", {"documents_complete": False, "documents_received": []})
    missing = _stage(client, receipt, code)
    assert missing["stage"] == "documents_missing"
    assert missing["documents_missing"] == ["Kartu Keluarga (KK)"]
    page = _status(client, receipt, code).get_data(as_text=True)
    assert "Berkas belum lengkap" in page and "Kartu Keluarga (KK)" in page

    complete(runtime, receipt, "operator", {"missing_documents_brought": True})
    assert _stage(client, receipt, code)["stage"] == "received"  # back at the document check
    complete(runtime, receipt, "operator", DOCS_OK)
    complete(runtime, receipt, "verifier", VERIFIED)
    assert _stage(client, receipt, code)["stage"] == "verified"
    complete(runtime, receipt, "operator", BIOMETRICS)
    assert _stage(client, receipt, code)["stage"] == "recorded"
    run_worker_until_quiet(runtime)
    assert _stage(client, receipt, code)["stage"] == "sent"

    printing = engine.list_tasks(runtime, actor(runtime, "disdukcapil"))[0]["receipt"]
    for data in ({"data_complete": True}, {"enrolment_result": "PRINT_READY_RECORD"}, {"blank_in_stock": True}):
        complete(runtime, printing, "disdukcapil", data)
    complete(runtime, printing, "disdukcapil", {"card_serial": "KTP-0001"})
    run_worker_until_quiet(runtime)
    assert _stage(client, receipt, code)["stage"] == "printing"  # printed, not at the office yet
    complete(runtime, receipt, "operator", CARD_ARRIVED, step="Task_receive_card")
    ready = _stage(client, receipt, code)
    assert ready["stage"] == "ready" and ready["stage_title"] == "Siap diambil"
    complete(runtime, receipt, "operator", HANDOVER, step="Task_handover")
    done = _stage(client, receipt, code)
    assert done["stage"] == "handed_over" and done["expected_date"] is None
    assert [p["state"] for p in done["progress"]] == ["done"] * len(done["progress"])


def test_a_closed_case_says_so_with_its_reason(runtime, app):
    receipt = start_new_card(runtime)["receipt"]
    engine.cancel_case(runtime, receipt, "Pemohon pindah domisili", actor(runtime, "camat"))
    shown = _stage(app.test_client(), receipt, _code(runtime, receipt))
    assert shown["stage"] == "closed" and shown["closed_reason"] == "Pemohon pindah domisili"


def test_the_status_shows_no_full_nik_no_staff_and_no_other_case(runtime, app):
    client = app.test_client()
    receipt = start_new_card(runtime, 1)["receipt"]
    other = start_new_card(runtime, 2)["receipt"]
    complete(runtime, receipt, "operator", DOCS_OK)
    code = _code(runtime, receipt)
    for response in (_status(client, receipt, code), _status(client, receipt, code, "en"), _api(client, receipt, code)):
        body = response.get_data(as_text=True)
        assert response.status_code == 200
        assert resident_data(1)["nik"] not in body and "0001" in body  # masked: the last four digits only
        for staff in ("operator", "Siti", "verifier", "Budi", "camat", "Camat"):
            assert not re.search(rf"\b{staff}\b", body), staff  # ("Kecamatan" is the office, not a person)
        assert other not in body and "Warga 2" not in body and resident_data(2)["nik"][-4:] not in body


def test_a_wrong_code_another_office_or_an_unknown_receipt_get_the_same_refusal(runtime, app):
    client = app.test_client()
    receipt = start_new_card(runtime)["receipt"]
    theirs = engine.start_case(runtime, "ektp_new_card", resident_data(7), actor(runtime, "other"))["receipt"]
    assert theirs.startswith(OTHER_OFFICE)
    right, their_code = (
        _code(runtime, receipt),
        engine.get_case(runtime, theirs, actor(runtime, "other"))["lookup_code"],
    )
    wrong = "AAAA-AAAA" if right != "AAAA-AAAA" else "BBBB-BBBB"
    attempts = {
        "wrong code": (receipt, wrong),
        "another office's case, with its own code": (theirs, their_code),
        "unknown receipt": ("640205-2026-99999", right),
        "the code of another case": (receipt, _code(runtime, start_new_card(runtime, 3)["receipt"])),
    }
    bodies = set()
    for what, (r, c) in attempts.items():
        response = _api(client, r, c)
        assert response.status_code == 404, what
        bodies.add(json.dumps(response.json, sort_keys=True))
        page = _status(client, r, c)
        assert page.status_code == 404, what
        html = page.get_data(as_text=True)
        assert "Tidak ada permohonan di kantor ini" in html and 'id="status"' not in html, what
    assert len(bodies) == 1  # nothing tells the attempts apart


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "receipt, code",
    [
        ("", "ABCD-EFGH"),
        ("not a receipt", "ABCD-EFGH"),
        ("640205-2026-00001' OR 1=1 --", "ABCD-EFGH"),
        ("٦٤٠٢٠٥-٢٠٢٦-٠٠٠٠١", "ABCD-EFGH"),  # Arabic-Indic digits
        ("640205-2026-00001", "x" * 100_000),
        ("640205-2026-00001", "ABCD-EFG\u0000"),
        ("640205-2026-00001", "ＡＢＣＤ－ＥＦＧ"),  # full-width, one letter short
        ("9" * 5000, "ABCD-EFGH"),
        ("640205-2026-00001", "漢字漢字漢字漢字"),
    ],
)
def test_nothing_a_resident_types_yields_an_error_page(runtime, app, receipt, code):
    client = app.test_client()
    start_new_card(runtime)
    html = _status(client, receipt, code)
    assert html.status_code in (400, 404, 422), html.status_code  # 400: a NUL character, refused before any view
    assert 'role="alert"' in html.get_data(as_text=True)
    api = _api(client, receipt, code)
    assert api.status_code in (400, 404) and api.json["message"]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_what_a_phone_keyboard_or_a_misread_code_produces_still_finds_the_case(runtime, app):
    client = app.test_client()
    receipt = start_new_card(runtime)["receipt"]
    code = _code(runtime, receipt)
    full_width = receipt.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789-"})
    sloppy = " " + code.lower().replace("-", " ") + " "
    misread = code.replace("O", "0").replace("I", "1").replace("B", "8")
    for r, c in ((full_width, code), (receipt, sloppy), (receipt.replace("-", "\u2013"), misread)):
        assert _api(client, r, c).status_code == 200, (r, c)


def test_the_lookup_code_is_keyed_with_the_node_secret(runtime, tmp_path):
    from simpul.engine import Config
    from simpul.plugins.socialization.lookup import lookup_code

    receipt = start_new_card(runtime)["receipt"]
    code = _code(runtime, receipt)
    assert code == lookup_code(runtime.config, receipt)
    assert (tmp_path / "instance" / "secret_key").is_file()  # created once, shared by CLI and web
    other_node = Config(instance_path=tmp_path / "elsewhere", secret_key="another node's secret")
    assert lookup_code(other_node, receipt) != code
    assert lookup_code(Config(instance_path=tmp_path / "x", secret_key="s"), receipt) == lookup_code(
        Config(instance_path=tmp_path / "y", secret_key="s"), receipt
    )
    serials = {lookup_code(runtime.config, f"640205-2026-{n:05d}") for n in range(1, 200)}
    assert len(serials) == 199  # consecutive serials give unrelated codes


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_lookups_are_rate_limited_per_client_with_a_clear_message(runtime, password_hash):
    from simpul.web import create_app

    runtime.config.settings["socialization_lookup_limit"] = "3 per minute"
    client = create_app(runtime=runtime, config={"TESTING": True}).test_client()
    receipt = start_new_card(runtime)["receipt"]
    code = _code(runtime, receipt)
    for _ in range(2):
        assert _status(client, receipt, "AAAA-AAAA").status_code == 404
    assert _status(client, receipt, code).status_code == 200
    limited = _status(client, receipt, code)
    assert limited.status_code == 429 and limited.headers["Retry-After"]
    html = limited.get_data(as_text=True)
    assert "Terlalu banyak pengecekan" in html and 'id="status"' not in html
    api = _api(client, receipt, code)  # the page and the API share one budget per client
    assert api.status_code == 429 and api.json["code"] == "rate_limited"
    elsewhere = client.get(
        "/api/v1/public/status",
        query_string={"receipt": receipt, "code": code},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert elsewhere.status_code == 200  # another client is not held up
    assert client.get("/cek").status_code == 200  # the empty form is not a lookup
    assert client.get("/layanan").status_code == 200


def test_the_api_answers_as_the_page_does(runtime, app):
    client = app.test_client()
    receipt = start_new_card(runtime)["receipt"]
    code = _code(runtime, receipt)
    english = client.get(
        "/api/v1/public/status", query_string={"receipt": receipt, "code": code}, headers={"Accept-Language": "en"}
    ).json
    assert english["receipt"] == receipt and english["stage"] == "received"
    assert english["stage_title"] == "Application received" and english["procedure_title"] == "New e-KTP recording"
    assert english["basis"]["text"].startswith("Not enough cards")
    assert set(english) >= {"expected_date", "basis", "progress", "documents_missing", "nik"}
    bad = _api(client, "nonsense", code)
    assert bad.status_code == 400 and bad.json["errors"]["receipt"]
