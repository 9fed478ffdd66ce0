"""Every message of the verification plugin, the document store and ``simpul requirements``
is in the project's Indonesian catalogue and reaches the clerk translated."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from simpul.engine.i18n import TRANSLATIONS_DIR, Message, gettext_for, render, translations_for
from simpul.plugins.verification.identity import MSG_DATE_MISMATCH, check_nik
from simpul.plugins.verification.requirements import MSG_MISSING, check_document_step

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    *(ROOT / "plugins" / "verification").glob("*.py"),
    ROOT / "engine" / "documents.py",
]


def marked_msgids() -> set[str]:
    found = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "N_"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.add(node.args[0].value)
    return found


def test_every_message_is_translated_into_indonesian():
    with open(TRANSLATIONS_DIR / "id" / "LC_MESSAGES" / "messages.po", "rb") as fh:
        catalogue = read_po(fh, locale="id")
    gettext = gettext_for("id")
    msgids = marked_msgids()
    assert len(msgids) > 40
    untranslated = sorted(m for m in msgids if not (catalogue.get(m) and catalogue.get(m).string))
    assert untranslated == [], "add them to translations/id/LC_MESSAGES/messages.po"
    not_compiled = sorted(m for m in msgids if gettext(m) != catalogue.get(m).string)
    assert not_compiled == [], "run: pybabel compile -d translations"


def test_templates_use_no_untranslated_words():
    for template in (ROOT / "plugins" / "verification" / "templates").rglob("*.html"):
        assert 't("' not in template.read_text(encoding="utf-8"), template


def test_messages_carry_their_msgid_and_values_and_are_translated_where_shown():
    indonesian, english = translations_for("id"), translations_for("en")
    data = {
        "document_requirements": [{"key": "family_card", "label": "Family card (Kartu Keluarga)"}],
        "documents_complete": True,
    }
    [missing] = check_document_step(data)["documents_received"]
    assert isinstance(missing, Message) and missing.msgid == MSG_MISSING
    assert render(missing, indonesian) == "Berkas persyaratan belum ada: Kartu Keluarga (KK)"
    assert render(missing, english) == "Required document missing: Family card (Kartu Keluarga)" == missing
    [message] = check_nik("6402054507000001", "2000-07-06", "P")
    assert message.msgid == MSG_DATE_MISMATCH
    assert message.params == {"nik_date": "2000-07-05", "entered": "2000-07-06"}
    expected = gettext_for("id")(MSG_DATE_MISMATCH).format(nik_date="2000-07-05", entered="2000-07-06")
    assert render(message, indonesian) == expected != message
    assert render(message, english) == message


def test_plural_messages_follow_the_catalogue_plural_rule():
    """A message with a count: Indonesian has one form, English two."""
    task = Message.plural("%(num)d task", "%(num)d tasks", 7)
    assert render(task, translations_for("en")) == "%(num)d tasks"
    assert render(task, translations_for("id")) == "%(num)d tugas"


@pytest.mark.parametrize(
    "nik", ["640205450700001", "64020545O7000001", "6402053207000001", "6402054513000001", "0002054507000001"]
)
def test_nik_messages_reach_the_clerk_in_indonesian(nik):
    messages = check_nik(nik)
    assert messages
    for message in messages:
        assert render(message, translations_for("id")) != message
