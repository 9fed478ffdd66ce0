"""Scans stay at the kecamatan: the case travels without them (compressed, small), and the
regency fetches a scan only when an officer asks for it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from simpul.engine import documents
from simpul.engine.models import OutboxMessage
from simpul.plugins.coordination.scans import DOCUMENTS_PATH, ScansUnavailable, fetch_scan, list_scans
from simpul.plugins.coordination.settings import Peer, settings_for
from simpul.plugins.coordination.transport import LinkDown, signed_request
from simpul.plugins.coordination.web import make_inbox_app
from tests.flows import BIOMETRICS, DOCS_OK, VERIFIED, actor, complete, start_new_card

from .helpers import printing_receipt, work

ROOT = Path(__file__).resolve().parents[2]


def _scan(seed: int) -> bytes:
    """A photographed family card: 900x1200 of noisy pixels (incompressible, ~200 KB as JPEG)."""
    image = Image.effect_noise((900, 1200), 60 + seed).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def _sent_with_a_scan(nodes):
    kec = nodes.kecamatan.runtime
    receipt = start_new_card(kec, 1)["receipt"]
    content = _scan(1)
    stored = documents.store_document(kec, receipt, "family_card", "kk.jpg", content, actor(kec, "operator"))
    complete(kec, receipt, "operator", DOCS_OK)
    complete(kec, receipt, "verifier", VERIFIED)
    complete(kec, receipt, "operator", BIOMETRICS)
    before = nodes.regency.proxy.bytes_up
    work(kec)
    return receipt, content, stored, nodes.regency.proxy.bytes_up - before


def test_a_case_travels_compressed_and_without_its_scans(nodes):
    kec, reg = nodes.kecamatan.runtime, nodes.regency.runtime
    receipt, content, _stored, wire = _sent_with_a_scan(nodes)
    assert len(content) > 100_000
    with kec.read() as s:
        payload = s.query(OutboxMessage).one().payload
    text = json.dumps(payload)
    assert "kk.jpg" not in text and len(text) < 2_000
    assert wire < 2_000  # request headers and the compressed case, nothing of the 100+ KB scan
    printing = printing_receipt(reg, receipt)
    assert documents.list_documents(reg, printing, actor(reg, "disdukcapil")) == []


def test_the_regency_fetches_a_scan_on_request(nodes, tmp_path):
    reg = nodes.regency.runtime
    receipt, content, stored, _wire = _sent_with_a_scan(nodes)
    printing = printing_receipt(reg, receipt)
    officer = actor(reg, "disdukcapil")

    # the printing case offers its scans (issue 14 item 8): a link among the case's actions
    from simpul.engine import get_case

    offered = [
        a for r in reg.hook.case_actions(runtime=reg, case=get_case(reg, printing, officer), actor=officer) for a in r
    ]
    links = [a for a in offered if a["endpoint"] == "coordination.scans_page"]
    assert [a["values"] for a in links] == [{"receipt": printing}]

    listing = list_scans(reg, printing, officer)
    assert listing["origin_office"] == "640205" and listing["origin_case"] == receipt
    (doc,) = listing["documents"]
    assert doc["requirement"] == "family_card" and doc["size"] == len(content)
    meta, fetched = fetch_scan(reg, printing, doc["id"], officer)
    assert fetched == content and meta["sha256"] == stored["sha256"]

    # The regency's page lists it and opens it (served on the regency node itself).
    client = make_inbox_app(reg).test_client()
    page = client.get(f"/coordination/cases/{printing}/scans").get_data(as_text=True)
    assert "family_card" in page and f"/coordination/cases/{printing}/scans/{doc['id']}" in page
    response = client.get(f"/coordination/cases/{printing}/scans/{doc['id']}")
    assert response.status_code == 200 and response.mimetype == "image/jpeg" and response.data == content

    # ... and from the command line.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}
    env.update(
        SIMPUL_DATABASE_URL=reg.config.database_url,
        SIMPUL_INSTANCE_PATH=str(tmp_path / "cli"),
        SIMPUL_OFFICE_CODE="6402",
        SIMPUL_OFFICE_KIND="regency",
        SIMPUL_SETTINGS=json.dumps(reg.config.settings),
        PYTHONPATH=str(ROOT),
    )
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("simpul")),
            "coordination",
            "scans",
            printing,
            "--as",
            "disdukcapil",
            "--save",
            str(tmp_path / "scans"),
            "--json",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    saved = json.loads(result.stdout)["documents"][0]["saved_as"]
    assert Path(saved).read_bytes() == content


def test_scans_are_only_given_to_the_office_the_case_was_sent_to(nodes, caplog):
    kec, reg = nodes.kecamatan.runtime, nodes.regency.runtime
    receipt, _content, _stored, _wire = _sent_with_a_scan(nodes)
    kec.config.settings["coordination"]["peers"]["6403"] = {"url": "http://127.0.0.1:9", "secret": "other-secret"}
    caplog.set_level("WARNING", logger="simpul.security")
    other = Peer("640205", nodes.kecamatan.url, "other-secret")
    with pytest.raises(LinkDown, match="403 not_your_case"):
        signed_request(reg, settings_for(reg), other, "6403", DOCUMENTS_PATH, {"correlation_key": receipt})
    assert any("6403" in r.getMessage() and "scans" in r.getMessage() for r in caplog.records)

    # With the link down the officer is told so, in one line.
    nodes.link("down")
    with pytest.raises(ScansUnavailable, match="could not be fetched from office 640205"):
        list_scans(reg, printing_receipt(reg, receipt), actor(reg, "disdukcapil"))
