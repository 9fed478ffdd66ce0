"""The document store: what is accepted, what is refused (and leaves nothing behind), who
may see it, and the photo warnings."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from simpul import engine
from simpul.engine import Conflict, NotFound, ValidationFailed, deploy_bundled
from simpul.engine import documents as store
from simpul.engine.models import CaseEvent
from simpul.engine.models_documents import Document

from ..conftest import make_runtime, seed_offices
from ..flows import DOCS_OK, actor, complete, start_new_card
from .samples import MB, PhotoRequirement, exe, image, pdf


def stored_files(rt):
    root = store.store_root(rt)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def counts(rt):
    with rt.read() as s:
        return (
            s.scalar(select(func.count()).select_from(Document)),
            s.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == "document_uploaded")),
        )


@pytest.mark.parametrize(
    "content, content_type, name",
    [
        (pdf(), "application/pdf", "kk.pdf"),
        (image("JPEG"), "image/jpeg", "kk.jpg"),
        (image("PNG"), "image/png", "kk.png"),
    ],
)
def test_a_scan_is_stored_by_content_with_its_hash(runtime, content, content_type, name):
    receipt = start_new_card(runtime)["receipt"]
    doc = store.store_document(
        runtime, receipt, "family_card", "C:\\Scans\\kk." + name.rsplit(".")[1], content, actor(runtime, "operator")
    )
    assert doc["content_type"] == content_type and doc["filename"] == name and doc["size"] == len(content)
    assert doc["duplicate"] is False and doc["warnings"] == []
    files = stored_files(runtime)
    assert [p.name for p in files] == [doc["sha256"]] and files[0].read_bytes() == content
    listed = store.list_documents(runtime, receipt, actor(runtime, "operator2"))
    assert [d["id"] for d in listed] == [doc["id"]]
    meta, data = store.read_document(runtime, doc["id"], actor(runtime, "verifier"))
    assert data == content and meta["sha256"] == doc["sha256"]
    event = engine.get_case(runtime, receipt, actor(runtime, "operator"))["events"][-1]
    assert event["kind"] == "document_uploaded" and event["actor"] == "operator"
    assert event["after"]["requirement"] == "family_card" and event["after"]["sha256"] == doc["sha256"]


def test_the_type_comes_from_the_content_not_the_name(runtime):
    receipt = start_new_card(runtime)["receipt"]
    doc = store.store_document(runtime, receipt, "family_card", "kk.pdf", image("JPEG"), actor(runtime, "operator"))
    assert doc["content_type"] == "image/jpeg" and doc["filename"] == "kk.jpg"


def _truncated_jpeg():
    data = image("JPEG")
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("kk.pdf", exe(), "Only PDF, JPEG and PNG files are accepted"),
        ("kk.pdf", pdf(pad=6 * MB), "larger than the limit of 5 MB"),
        ("kk.pdf", b"", "The file is empty."),
        ("kk.jpg", _truncated_jpeg(), "The JPEG image is incomplete or damaged"),
        ("kk.png", image("PNG")[:-12], "The PNG image is incomplete or damaged"),
        ("kk.pdf", pdf()[:-8], "The PDF is incomplete"),
    ],
)
def test_bad_uploads_are_refused_clearly_and_store_nothing(runtime, name, content, expected):
    receipt = start_new_card(runtime)["receipt"]
    with pytest.raises(ValidationFailed) as err:
        store.store_document(runtime, receipt, "family_card", name, io.BytesIO(content), actor(runtime, "operator"))
    assert expected in str(err.value)
    assert err.value.errors["file"]
    assert stored_files(runtime) == []
    assert counts(runtime) == (0, 0)


def test_the_size_limit_is_configurable(db, tmp_path):
    rt = make_runtime(db, tmp_path, settings={"documents_max_mb": 1})
    seed_offices(rt)
    deploy_bundled(rt, deployed_by="test")
    try:
        receipt = start_new_card(rt)["receipt"]
        with pytest.raises(ValidationFailed, match="limit of 1 MB"):
            store.store_document(rt, receipt, "family_card", "kk.pdf", pdf(pad=MB + 10), actor(rt, "operator"))
        assert (
            store.store_document(rt, receipt, "family_card", "kk.pdf", pdf(pad=MB - 1000), actor(rt, "operator"))[
                "size"
            ]
            < MB
        )
    finally:
        rt.close()


def test_another_office_can_neither_upload_nor_list_nor_download(runtime, caplog):
    receipt = start_new_card(runtime)["receipt"]
    doc = store.store_document(runtime, receipt, "family_card", "kk.pdf", pdf(), actor(runtime, "operator"))
    other = actor(runtime, "other")
    with caplog.at_level("WARNING", logger="simpul.security"):
        with pytest.raises(NotFound):
            store.store_document(runtime, receipt, "family_card", "x.pdf", pdf(pad=10), other)
        with pytest.raises(NotFound):
            store.list_documents(runtime, receipt, other)
        with pytest.raises(NotFound):
            store.open_document(runtime, doc["id"], other)
    assert sum("office isolation" in r.message for r in caplog.records) == 3
    with pytest.raises(NotFound):
        store.open_document(runtime, doc["id"] + 999, actor(runtime, "operator"))
    assert counts(runtime) == (1, 1)


def test_only_the_case_requirements_and_only_open_cases(runtime):
    receipt = start_new_card(runtime)["receipt"]
    with pytest.raises(ValidationFailed) as err:
        store.store_document(runtime, receipt, "passport", "p.pdf", pdf(), actor(runtime, "operator"))
    assert err.value.errors == {"requirement": ["This case has no document requirement passport."]}
    engine.cancel_case(runtime, receipt, "Pemohon pindah", actor(runtime, "camat"))
    with pytest.raises(Conflict, match="documents can no longer be added"):
        store.store_document(runtime, receipt, "family_card", "kk.pdf", pdf(), actor(runtime, "operator"))
    assert stored_files(runtime) == []


def test_the_same_file_twice_is_kept_once(runtime):
    receipt = start_new_card(runtime)["receipt"]
    first = store.store_document(runtime, receipt, "family_card", "kk.pdf", pdf(), actor(runtime, "operator"))
    again = store.store_document(runtime, receipt, "family_card", "kk-lagi.pdf", pdf(), actor(runtime, "operator2"))
    assert again["duplicate"] is True and again["id"] == first["id"]
    other_case = start_new_card(runtime, 2)["receipt"]
    shared = store.store_document(runtime, other_case, "family_card", "kk.pdf", pdf(), actor(runtime, "operator"))
    assert shared["id"] != first["id"] and shared["sha256"] == first["sha256"]
    assert len(stored_files(runtime)) == 1 and counts(runtime) == (2, 2)


def test_a_damaged_stored_file_is_never_served(runtime):
    receipt = start_new_card(runtime)["receipt"]
    doc = store.store_document(runtime, receipt, "family_card", "kk.pdf", pdf(), actor(runtime, "operator"))
    store.blob_path(runtime, doc["sha256"]).write_bytes(b"%PDF-1.4 half written")
    with pytest.raises(store.DocumentDamaged, match="missing or damaged"):
        store.open_document(runtime, doc["id"], actor(runtime, "operator"))
    # Uploading it again repairs the file for every row that shares it.
    store.store_document(runtime, receipt, "family_card", "kk.pdf", pdf(), actor(runtime, "operator"))
    assert store.read_document(runtime, doc["id"], actor(runtime, "operator"))[1] == pdf()


def test_documents_stay_with_a_case_that_moves_on(runtime):
    receipt = start_new_card(runtime)["receipt"]
    store.store_document(runtime, receipt, "family_card", "kk.pdf", pdf(), actor(runtime, "operator"))
    complete(runtime, receipt, "operator", DOCS_OK)
    assert len(store.list_documents(runtime, receipt, actor(runtime, "verifier"))) == 1


# -- photos ----------------------------------------------------------------------------------


@pytest.fixture
def photo_runtime(db, tmp_path):
    rt = make_runtime(db, tmp_path, extra_plugins=[PhotoRequirement()])
    seed_offices(rt)
    deploy_bundled(rt, deployed_by="test")
    yield rt
    rt.close()


@pytest.mark.parametrize(
    "content, warnings",
    [
        (image("JPEG", (300, 400)), []),
        (image("PNG", (600, 800)), []),
        (image("JPEG", (400, 400)), ["aspect_ratio"]),
        (image("JPEG", (300, 400), background=(200, 30, 30)), ["background"]),
        (image("JPEG", (400, 300), background=(30, 30, 160)), ["aspect_ratio", "background"]),
        (pdf(), ["not_an_image"]),
    ],
)
def test_photo_checks_warn_but_never_refuse(photo_runtime, content, warnings):
    rt = photo_runtime
    receipt = start_new_card(rt)["receipt"]
    doc = store.store_document(rt, receipt, "photos", "foto", content, actor(rt, "operator"))
    assert [w["code"] for w in doc["warnings"]] == warnings
    assert store.list_documents(rt, receipt, actor(rt, "operator"))[0]["warnings"] == doc["warnings"]
    if "aspect_ratio" in warnings:
        assert doc["warnings"][0]["params"] == {"width": doc["width"], "height": doc["height"]}


def test_scans_of_other_documents_get_no_photo_warnings(photo_runtime):
    rt = photo_runtime
    receipt = start_new_card(rt)["receipt"]
    doc = store.store_document(
        rt, receipt, "family_card", "kk.jpg", image("JPEG", (800, 500), (40, 40, 40)), actor(rt, "operator")
    )
    assert doc["warnings"] == []


def test_filenames_are_cleaned():
    assert store.clean_filename("../../etc/passwd", "application/pdf") == "passwd.pdf"
    assert store.clean_filename("C:\\Users\\x\\KK Budi.PDF", "application/pdf") == "KK Budi.pdf"
    assert store.clean_filename('<script>"\x00.png', "image/png") == "script.png"
    assert store.clean_filename("", "image/jpeg") == "document.jpg"
    assert store.clean_filename("a" * 500 + ".jpg", "image/jpeg") == "a" * 150 + ".jpg"


def test_a_wrong_upload_is_removed_or_replaced_until_a_step_relied_on_it(runtime):
    receipt = start_new_card(runtime)["receipt"]
    siti, other = actor(runtime, "operator"), actor(runtime, "other")
    wrong = store.store_document(runtime, receipt, "family_card", "tetangga.pdf", pdf(), siti)
    with pytest.raises(NotFound):
        store.remove_document(runtime, wrong["id"], other)  # another office: not found, kept
    right = store.replace_document(runtime, wrong["id"], "kk.png", image("PNG"), siti)
    assert right["replaced"]["filename"] == "tetangga.pdf" and right["requirement"] == "family_card"
    assert [d["filename"] for d in store.list_documents(runtime, receipt, siti)] == ["kk.png"]
    assert [p.name for p in stored_files(runtime)] == [right["sha256"]]  # the wrong file is gone too
    # a refused replacement keeps the document where it was
    with pytest.raises(ValidationFailed):
        store.replace_document(runtime, right["id"], "kosong.pdf", b"", siti)
    assert [d["id"] for d in store.list_documents(runtime, receipt, siti)] == [right["id"]]
    events = [e for e in engine.get_case(runtime, receipt, siti)["events"] if e["kind"].startswith("document_")]
    assert [e["kind"] for e in events] == ["document_uploaded", "document_uploaded", "document_replaced"]
    assert events[-1]["before"]["filename"] == "tetangga.pdf" and events[-1]["after"] == {"replaced_by": right["id"]}

    complete(runtime, receipt, "operator", DOCS_OK)  # the document check relied on the scan
    assert store.removable(runtime, right["id"], siti) is False
    with pytest.raises(Conflict, match="Pemeriksaan berkas"):
        store.remove_document(runtime, right["id"], siti)
    assert counts(runtime)[0] == 1


@pytest.mark.parametrize(
    "size, locale, shown",
    [(1, "id", "1 KB"), (1024, "id", "1 KB"), (1025, "id", "2 KB"), (980 * 1024, "id", "980 KB")]
    + [(3 * MB // 2, "id", "1,5 MB"), (3 * MB // 2, "en", "1.5 MB"), (5 * MB, "id", "5,0 MB")],
)
def test_a_size_reads_the_same_on_every_page(size, locale, shown):
    assert store.format_size(size, locale) == shown
