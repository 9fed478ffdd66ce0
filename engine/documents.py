"""The document store: scans of the papers a case requires, uploaded per requirement.

* The type is sniffed from the content (PDF, JPEG or PNG), never taken from the file's name;
  images are decoded in full, so a truncated or damaged file is refused, not stored.
* Files larger than the limit (5 MB unless ``SIMPUL_SETTINGS`` has ``documents_max_mb``) are
  refused before they are read whole.
* A refused upload stores nothing: no file, no row, no event.
* Files live once per content under ``<instance>/documents/ab/cd/<sha256>``, written to a
  temporary file, synced and renamed (a power cut leaves the old state or the new one);
  the row holds the metadata and the hash, and every download is checked against it.
* Office isolation as in engine/cases.py: a case or document of another office is
  "not found" for a clerk, and the attempt is logged.
* An upload is an event in the case's timeline (``document_uploaded``).
* Uploads to a requirement of kind ``photo`` get warnings -- never refusals -- when the photo
  is not 3:4 or its background is not light.

Messages are English msgids (``N_``), translated where they are shown.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import tempfile
import unicodedata
import warnings as pywarnings
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy import select

from ._case_access import OPEN_STATUSES, find_case, visible_case
from ._timeline import record_event
from .actors import Actor
from .errors import Conflict, InvalidInput, NotFound, SimpulError, ValidationFailed
from .i18n import N_, Message
from .models import Case, utcnow
from .models_documents import Document
from .requirements import requirements_for

log = logging.getLogger("simpul.documents")
security_log = logging.getLogger("simpul.security")

DEFAULT_MAX_MB = 5
MEGABYTE = 1024 * 1024
#: images above this many pixels are refused before they are decoded (decompression bombs).
MAX_IMAGE_PIXELS = 40_000_000
STORE_DIR = "documents"
#: the engine hands uploaded requirement keys to the ``validate_task_data`` hook under this key.

PDF, JPEG, PNG = "application/pdf", "image/jpeg", "image/png"
EXTENSIONS = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"

MSG_EMPTY = N_("The file is empty.")
MSG_TOO_LARGE = N_("The file is larger than the limit of {limit} MB.")
MSG_TOO_LARGE_FIELD = N_("The file is too large.")
MSG_UNKNOWN_TYPE = N_(
    "Only PDF, JPEG and PNG files are accepted, and this file is none of them (its content was checked, not its name)."
)
MSG_BROKEN_JPEG = N_("The JPEG image is incomplete or damaged; scan or photograph the document again.")
MSG_BROKEN_PNG = N_("The PNG image is incomplete or damaged; scan or photograph the document again.")
MSG_BROKEN_PDF = N_("The PDF is incomplete (it has no end-of-file marker); save or scan it again.")
MSG_IMAGE_TOO_BIG = N_("The image has too many pixels; scan it at a lower resolution.")
MSG_UNKNOWN_REQUIREMENT = N_("This case has no document requirement {key}.")
MSG_CASE_CLOSED = N_("Case {receipt} is {status}; documents can no longer be added.")
MSG_DAMAGED = N_("The stored file of document {id} is missing or damaged; upload it again.")
MSG_WARN_RATIO = N_("The photo is not in 3:4 proportion ({width}\u00d7{height} pixels).")
MSG_WARN_BACKGROUND = N_("The photo's background is not light; a white background is required.")
MSG_WARN_NOT_IMAGE = N_("A photo should be a JPEG or PNG image, not a PDF.")
MSG_REMOVE_AFTER_STEP = N_(
    "This document was already relied on when the step \u201c{step}\u201d was completed; it can no longer be removed."
)

PHOTO_RATIO = 3 / 4
PHOTO_RATIO_TOLERANCE = 0.04  # 4 %: a 300x400 photo cropped a little still passes
LIGHT_BACKGROUND = 180  # mean luminance (0-255) of the top and side edges


class DocumentDamaged(SimpulError):
    """The stored file no longer matches its hash (or is gone): nothing is served."""

    code = "document_damaged"
    status = 500


# -- configuration ---------------------------------------------------------------------------


def max_upload_bytes(runtime) -> int:
    """The size limit: ``documents_max_mb`` in ``SIMPUL_SETTINGS`` (default 5)."""
    value = runtime.config.settings.get("documents_max_mb", DEFAULT_MAX_MB)
    try:
        mb = float(value)
    except (TypeError, ValueError):
        mb = DEFAULT_MAX_MB
    return int(mb * MEGABYTE) if mb > 0 else DEFAULT_MAX_MB * MEGABYTE


def store_root(runtime) -> Path:
    return Path(runtime.config.instance_path) / STORE_DIR


def blob_path(runtime, sha256: str) -> Path:
    return store_root(runtime) / sha256[:2] / sha256[2:4] / sha256


# -- checking the content ------------------------------------------------------------------


def _refuse(message: str, **params) -> NoReturn:
    raise ValidationFailed(message, errors={"file": [Message(message, **params)]}, **params)


def sniff(content: bytes) -> str | None:
    """The content type by the file's first bytes: PDF, JPEG, PNG or None."""
    if content.startswith(b"%PDF-"):
        return PDF
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    if content.startswith(_PNG_SIGNATURE):
        return PNG
    return None


def _open_image(content: bytes, content_type: str):
    from PIL import Image

    fmt, broken = ("JPEG", MSG_BROKEN_JPEG) if content_type == JPEG else ("PNG", MSG_BROKEN_PNG)
    if content_type == PNG and _PNG_IEND not in content[-64:]:
        _refuse(broken)
    try:
        with pywarnings.catch_warnings():
            pywarnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content), formats=[fmt])
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                _refuse(MSG_IMAGE_TOO_BIG)
            image.load()  # decodes every byte: a truncated file fails here
    except ValidationFailed:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        _refuse(MSG_IMAGE_TOO_BIG)
    except Exception:  # Pillow raises OSError, SyntaxError, ValueError... for broken files
        _refuse(broken)
    return image


def check_content(content: bytes, max_bytes: int) -> tuple[str, Any]:
    """The sniffed content type and, for an image, the decoded image; or ValidationFailed."""
    if not content:
        _refuse(MSG_EMPTY)
    if len(content) > max_bytes:
        raise ValidationFailed(MSG_TOO_LARGE, errors={"file": [MSG_TOO_LARGE_FIELD]}, limit=format_mb(max_bytes))
    content_type = sniff(content)
    if content_type is None:
        _refuse(MSG_UNKNOWN_TYPE)
    if content_type == PDF:
        if b"%%EOF" not in content[-1024:]:
            _refuse(MSG_BROKEN_PDF)
        return content_type, None
    return content_type, _open_image(content, content_type)


def format_mb(limit: int) -> str:
    mb = limit / MEGABYTE
    return f"{mb:.0f}" if mb == int(mb) else f"{mb:.1f}"


def format_size(size: int, locale: str = "id") -> str:
    """A file size as every page shows it: ``980 KB`` (rounded up, so a non-empty file is never
    ``0 KB``) below one megabyte, ``1,5 MB`` (one decimal, the locale's separator) from there."""
    from babel.numbers import format_decimal

    size = max(0, int(size or 0))
    if size >= MEGABYTE:
        return f"{format_decimal(round(size / MEGABYTE, 1), '#,##0.0', locale=locale)} MB"
    kb = -(-size // 1024)  # ceiling
    return f"{format_decimal(kb, '#,##0', locale=locale)} KB"


def photo_warnings(content_type: str, image) -> list[dict]:
    """Photo checks that did not pass, as ``{"code", "message", "params"}`` (warnings only)."""
    if image is None:
        return [{"code": "not_an_image", "message": MSG_WARN_NOT_IMAGE, "params": {}}]
    from PIL import ImageOps, ImageStat

    image = ImageOps.exif_transpose(image)
    width, height = image.size
    result = []
    if abs(width / height - PHOTO_RATIO) / PHOTO_RATIO > PHOTO_RATIO_TOLERANCE:
        result.append({"code": "aspect_ratio", "message": MSG_WARN_RATIO, "params": {"width": width, "height": height}})
    # The background shows along the top and down both sides of the upper half (the face
    # and shoulders fill the middle and the bottom).
    grey = image.convert("L")
    grey.thumbnail((90, 120))
    w, h = grey.size
    edge_w, edge_h = max(1, w // 10), max(1, h // 10)
    strips = [grey.crop((0, 0, w, edge_h)), grey.crop((0, 0, edge_w, h // 2)), grey.crop((w - edge_w, 0, w, h // 2))]
    pixels = sum(s.size[0] * s.size[1] for s in strips)
    mean = sum(ImageStat.Stat(s).mean[0] * s.size[0] * s.size[1] for s in strips) / pixels
    if mean < LIGHT_BACKGROUND:
        result.append({"code": "background", "message": MSG_WARN_BACKGROUND, "params": {}})
    return result


def _read_limited(content, max_bytes: int) -> bytes:
    """Bytes, or a binary stream read to at most one byte past the limit (never whole)."""
    if isinstance(content, (bytes, bytearray, memoryview)):
        return bytes(content)
    if hasattr(content, "read"):
        data = content.read(max_bytes + 1)
        if isinstance(data, str):
            raise InvalidInput("Upload the file as bytes, not text.")
        return data or b""
    raise InvalidInput("Upload the file as bytes, not text.")


def clean_filename(name, content_type: str) -> str:
    """A display and download name: no directories or control characters, and the extension
    of the sniffed type (a JPEG named ``x.pdf`` downloads as ``x.jpg``)."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(c for c in name if c.isprintable() and c not in '"<>|:*?').strip(" .")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = stem[:150].strip(" .") or "document"
    return stem + EXTENSIONS[content_type]


# -- storing -------------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_blob(runtime, sha256: str, content: bytes) -> bool:
    """Write the content once under its hash; True if this call created the file."""
    path = blob_path(runtime, sha256)
    if path.exists() and _file_hash(path) == sha256:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return True


def _file_hash(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 16), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _case_for(session, case_ref, actor: Actor) -> Case:
    return visible_case(find_case(session, case_ref), actor, "Case")


def _requirement(runtime, case: Case, key: str) -> dict:
    for item in requirements_for(runtime, case.process_key, case.data or {}):
        if item.get("key") == key:
            return item
    raise ValidationFailed(
        MSG_UNKNOWN_REQUIREMENT, errors={"requirement": [Message(MSG_UNKNOWN_REQUIREMENT, key=key)]}, key=key
    )


def _check_open(case: Case) -> None:
    if case.status not in OPEN_STATUSES:
        raise Conflict(MSG_CASE_CLOSED, receipt=case.receipt, status=case.status)


def store_document(
    runtime, case_ref, requirement_key: str, filename: str, content, actor: Actor, *, max_bytes: int | None = None
) -> dict:
    """Store an upload for one requirement of an open case of the actor's office.

    ``content`` is bytes or a binary stream.  Returns the document (``document_dict``), with
    ``"duplicate": True`` when the same file was already uploaded for this requirement (the
    first upload is returned, nothing is added).  Refusals raise NotFound (case of another
    office or unknown), Conflict (closed case) or ValidationFailed (``errors["file"]`` or
    ``errors["requirement"]`` says what is wrong); a refused upload stores nothing."""
    limit = max_bytes or max_upload_bytes(runtime)
    key = str(requirement_key or "").strip()
    with runtime.read() as s:
        case = _case_for(s, case_ref, actor)
        _check_open(case)
        requirement = _requirement(runtime, case, key)
    data = _read_limited(content, limit)
    content_type, image = check_content(data, limit)
    sha256 = hashlib.sha256(data).hexdigest()
    warnings = photo_warnings(content_type, image) if requirement.get("kind") == "photo" else []
    width, height = image.size if image is not None else (None, None)
    name = clean_filename(filename, content_type)
    created = _write_blob(runtime, sha256, data)
    try:
        with runtime.transaction() as uow:
            s = uow.session
            case = _case_for(s, case.id, actor)
            _check_open(case)
            same = s.scalar(
                select(Document)
                .where(Document.case_id == case.id, Document.requirement_key == key, Document.sha256 == sha256)
                .limit(1)
            )
            if same is not None:
                return {**document_dict(same), "duplicate": True}
            doc = Document(
                case_id=case.id,
                office_code=case.office_code,
                requirement_key=key,
                filename=name,
                content_type=content_type,
                size=len(data),
                sha256=sha256,
                width=width,
                height=height,
                warnings=warnings,
                uploaded_by=actor.username,
                uploaded_at=utcnow(),
            )
            s.add(doc)
            s.flush()
            record_event(
                uow,
                case,
                "document_uploaded",
                actor,
                detail=f"{key}: {name}",
                after={
                    "document_id": doc.id,
                    "requirement": key,
                    "filename": name,
                    "content_type": content_type,
                    "size": len(data),
                    "sha256": sha256,
                    "warnings": [w["code"] for w in warnings],
                },
            )
            return {**document_dict(doc), "duplicate": False}
    except BaseException:
        if created:
            _forget_blob_if_unused(runtime, sha256)
        raise


def _forget_blob_if_unused(runtime, sha256: str) -> None:
    try:
        with runtime.read() as s:
            used = s.scalar(select(Document.id).where(Document.sha256 == sha256).limit(1))
        if used is None:
            blob_path(runtime, sha256).unlink(missing_ok=True)
    except Exception:  # the upload already failed; an orphan file is harmless
        log.warning("could not remove unused document file %s", sha256, exc_info=True)


# -- removing ------------------------------------------------------------------------------


def _removable(s, document_id, actor: Actor) -> tuple[Document, Case]:
    """The document and its case, if the actor may remove it now (else NotFound or Conflict)."""
    from .models import CaseEvent

    try:
        document_id = int(document_id)
    except (TypeError, ValueError):
        raise NotFound("{what} not found.", what=Message("Document")) from None
    doc = s.get(Document, document_id)
    if doc is None or not actor.sees_office(doc.office_code):
        raise NotFound("{what} not found.", what=Message("Document"))
    case = _case_for(s, doc.case_id, actor)
    _check_open(case)
    relied = s.scalar(
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id, CaseEvent.kind == "task_completed", CaseEvent.at >= doc.uploaded_at)
        .order_by(CaseEvent.id)
        .limit(1)
    )
    if relied is not None:
        raise Conflict(MSG_REMOVE_AFTER_STEP, step=relied.step_name or relied.step or "")
    return doc, case


def document_info(runtime, document_id, actor: Actor) -> dict:
    """A document's metadata with its case's receipt, for a user of its office (the stored
    file is not read: a damaged one can still be replaced)."""
    try:
        document_id = int(document_id)
    except (TypeError, ValueError):
        raise NotFound("{what} not found.", what=Message("Document")) from None
    with runtime.read() as s:
        doc = s.get(Document, document_id)
        if doc is None or not actor.sees_office(doc.office_code):
            raise NotFound("{what} not found.", what=Message("Document"))
        case = _case_for(s, doc.case_id, actor)
        return _with_names(s, [{**document_dict(doc), "receipt": case.receipt}])[0]


def removable(runtime, document_id, actor: Actor) -> bool:
    """Whether ``remove_document`` would remove it now (for showing the button)."""
    try:
        with runtime.read() as s:
            _removable(s, document_id, actor)
    except SimpulError:
        return False
    return True


def remove_document(runtime, document_id, actor: Actor, *, replaced_by: int | None = None) -> dict:
    """Remove a wrong upload from an open case of the actor's office.

    Allowed while the case is open and no step was completed after the upload (a completed
    step relied on it: Conflict).  The removal is an event in the timeline
    (``document_removed``, or ``document_replaced`` when ``replaced_by`` names the upload
    that takes its place); the stored file goes when no other document uses it."""
    from .cases import record_event

    with runtime.transaction() as uow:
        doc, case = _removable(uow.session, document_id, actor)
        removed = document_dict(doc)
        uow.session.delete(doc)
        uow.session.flush()
        record_event(
            uow,
            case,
            "document_replaced" if replaced_by else "document_removed",
            actor,
            detail=f"{removed['requirement']}: {removed['filename']}",
            before={k: removed[k] for k in ("id", "requirement", "filename", "content_type", "size", "sha256")},
            after={"replaced_by": replaced_by} if replaced_by else None,
        )
    _forget_blob_if_unused(runtime, removed["sha256"])
    return removed


def replace_document(runtime, document_id, filename: str, content, actor: Actor) -> dict:
    """Upload a file in place of a wrong one (same requirement).  The old one must be
    removable and the new file is checked and stored first, so a refused replacement leaves
    the old document where it was."""
    with runtime.read() as s:
        doc, case = _removable(s, document_id, actor)
        old_id, case_id, key = doc.id, case.id, doc.requirement_key
    new = store_document(runtime, case_id, key, filename, content, actor)
    if new["id"] == old_id:  # the same file again: nothing to replace
        return {**new, "replaced": None}
    removed = remove_document(runtime, old_id, actor, replaced_by=new["id"])
    return {**new, "replaced": removed}


# -- reading -------------------------------------------------------------------------------


def document_dict(doc: Document) -> dict:
    return {
        "id": doc.id,
        "case_id": doc.case_id,
        "office": doc.office_code,
        "requirement": doc.requirement_key,
        "filename": doc.filename,
        "content_type": doc.content_type,
        "size": doc.size,
        "sha256": doc.sha256,
        "width": doc.width,
        "height": doc.height,
        "warnings": list(doc.warnings or []),
        "uploaded_by": doc.uploaded_by,
        "uploaded_at": doc.uploaded_at.isoformat(),
    }


def _with_names(session, docs: list[dict]) -> list[dict]:
    """Each document with ``uploaded_by_name``: the uploader as people know them, not their login."""
    from .models import User

    logins = {d["uploaded_by"] for d in docs if d.get("uploaded_by")}
    names = (
        dict(session.execute(select(User.username, User.display_name).where(User.username.in_(logins))).all())
        if logins
        else {}
    )
    for d in docs:
        d["uploaded_by_name"] = names.get(d["uploaded_by"]) or d["uploaded_by"]
    return docs


def list_documents(runtime, case_ref, actor: Actor) -> list[dict]:
    """The documents of a case of the actor's office, oldest first."""
    with runtime.read() as s:
        case = _case_for(s, case_ref, actor)
        rows = s.scalars(select(Document).where(Document.case_id == case.id).order_by(Document.id))
        return _with_names(s, [document_dict(d) for d in rows])


def open_document(runtime, document_id, actor: Actor) -> tuple[dict, Path]:
    """A document's metadata and the path of its verified file, for a user of its office.

    Raises NotFound for an unknown document or one of another office (logged), and
    DocumentDamaged when the stored file is missing or no longer matches its hash."""
    try:
        document_id = int(document_id)
    except (TypeError, ValueError):
        raise NotFound("{what} not found.", what=Message("Document")) from None
    with runtime.read() as s:
        doc = s.get(Document, document_id)
        if doc is None:
            raise NotFound("{what} not found.", what=Message("Document"))
        if not actor.sees_office(doc.office_code):
            security_log.warning(
                "office isolation: %s of office %s tried to reach document %s of office %s",
                actor.username,
                actor.office_code,
                doc.id,
                doc.office_code,
            )
            raise NotFound("{what} not found.", what=Message("Document"))
        meta = document_dict(doc)
    path = blob_path(runtime, meta["sha256"])
    if _file_hash(path) != meta["sha256"]:
        log.error("document %s: stored file %s is missing or damaged", meta["id"], path)
        raise DocumentDamaged(MSG_DAMAGED, id=meta["id"])
    log.info("document %s of case %s read by %s", meta["id"], meta["case_id"], actor.username)
    return meta, path


def read_document(runtime, document_id, actor: Actor) -> tuple[dict, bytes]:
    meta, path = open_document(runtime, document_id, actor)
    return meta, path.read_bytes()
