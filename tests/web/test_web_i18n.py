"""Language and time: every user-visible string of the web app in the catalogue, Indonesian
complete, no text outside _() in templates, nothing loaded from the internet, and dates in
the office's time zone the Indonesian way."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "web" / "templates"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "_l": None, "lazy_gettext": None}


def catalogue(locale):
    with (ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=locale)


def web_msgids() -> set:
    # every file babel.cfg extracts from (engine, plugins, CLI, web and their templates)
    method_map = [
        (pattern, method)
        for method, pattern in re.findall(r"^\[(\w+): ([^\]]+)\]$", (ROOT / "babel.cfg").read_text(), re.M)
    ]
    assert method_map
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT),
        method_map=method_map,
        keywords={
            **KEYWORDS,
            "NotFound": None,
            "Conflict": None,
            "Forbidden": None,
            "InvalidInput": None,
            "ValidationFailed": None,
            "Unauthorized": None,
            "TooManyAttempts": None,
        },
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_web_message_is_in_the_indonesian_catalogue_and_translated():
    po = catalogue("id")
    translated = {m.id[0] if isinstance(m.id, tuple) else m.id: m.string for m in po if m.id}
    plurals = {m.id[1] for m in po if isinstance(m.id, tuple)}  # marked on their own with N_() too
    missing = sorted(m for m in web_msgids() if m not in translated and m not in plurals)
    assert missing == [], f"not in translations/id (run the extraction in babel.cfg): {missing}"
    empty = sorted(k for k, v in translated.items() if not (v if isinstance(v, str) else any(v)))
    assert empty == [], f"untranslated in translations/id: {empty}"
    fuzzy = [m.id for m in po if m.id and m.fuzzy]
    assert fuzzy == []


def test_the_english_catalogue_exists_and_placeholders_match():
    english = catalogue("en")
    assert len([m for m in english if m.id]) == len([m for m in catalogue("id") if m.id])
    for m in catalogue("id"):
        if not m.id or isinstance(m.id, tuple) or not m.string:
            continue
        for pattern in (r"\{[a-z_]+\}", r"%\([a-z_]+\)[sd]"):
            assert sorted(re.findall(pattern, m.id)) == sorted(re.findall(pattern, m.string)), m.id


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_templates_have_no_text_outside_the_catalogue(template):
    source = (TEMPLATES / template).read_text(encoding="utf-8")
    source = re.sub(r"(?s)\{#.*?#\}", " ", source)
    source = re.sub(r"(?s)\{%.*?%\}", " ", source)
    source = re.sub(r"(?s)\{\{.*?\}\}", " ", source)
    source = re.sub(r"(?s)<script\b.*?</script>", " ", source)
    source = re.sub(r"(?s)<[^>]*>", " ", source)
    source = re.sub(r'[\w-]+="[^"]*"', " ", source)  # attributes a macro writes into a tag
    source = re.sub(r"&[a-z]+;|&#\d+;", " ", source)
    words = re.findall(r"[A-Za-z]{2,}", source)
    assert words == [], f"{template}: text not wrapped in _(): {words}"


def test_templates_load_nothing_from_the_internet():
    static = [
        p
        for p in (ROOT / "web" / "static").rglob("*")
        if p.is_file() and "vendor" not in p.parts and p.suffix in (".js", ".css", ".html")
    ]
    for path in list(TEMPLATES.rglob("*.html")) + static:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), path
        assert not re.search(r"@import\s+url\(\s*[\"']?https?:", text), path


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_dates_are_shown_in_the_office_time_zone_the_indonesian_way(app):
    from flask import session

    from simpul.web.i18n import format_dt

    moment = datetime(2026, 11, 28, 8, 5, tzinfo=UTC)
    with app.test_request_context("/"):
        assert format_dt(moment) == "28 Nov 2026 16.05 WITA"
        assert format_dt(moment.isoformat()) == "28 Nov 2026 16.05 WITA"
        session["locale"] = "en"
        from flask_babel import refresh

        refresh()
        assert format_dt(moment) == "28 Nov 2026, 16:05 WITA"
    with app.test_request_context("/"):
        from flask import g

        g.office_timezone = "Asia/Jakarta"
        assert format_dt(moment) == "28 Nov 2026 15.05 WIB"


def test_api_validation_messages_keep_their_values_in_each_language(app, token_for):
    """marshmallow's formatted messages arrive as msgid + values (no English is parsed back)."""
    api, op = app.test_client(), token_for("operator")
    indonesian = api.get("/api/v1/tasks?view=nope&per_page=0", headers={**op, "Accept-Language": "id"}).get_json()
    assert indonesian["errors"]["view"] == ["Harus salah satu dari: mine, roles, office."]
    assert indonesian["errors"]["per_page"] == ["Harus paling kecil 1 dan paling besar 200."]
    english = api.get("/api/v1/tasks?view=nope", headers={**op, "Accept-Language": "en"}).get_json()
    assert english["errors"]["view"] == ["Must be one of: mine, roles, office."]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_plugin_messages_are_translated_with_their_parameters_where_shown(app):
    from simpul.engine import Message
    from simpul.web.i18n import show_message

    missing = Message("Required document missing: {label}", label=Message("Family card (Kartu Keluarga)"))
    with app.test_request_context("/"):
        assert show_message(missing) == "Berkas persyaratan belum ada: Kartu Keluarga (KK)"
        assert show_message("Something nobody translated.") == "Something nobody translated."
        # text already formatted is not a msgid: nothing turns it back into a template
        assert show_message(str(missing)) == "Required document missing: Family card (Kartu Keluarga)"
