"""Kutai Kartanegara's e-KTP rules (regional regulation 14/2012) as a Simpul plugin.

Installed with pip, found through the ``simpul`` entry point ``kukar = simpul_kukar``.  It
adds to the national baseline of the built-in verification plugin; an entry with the same key
as a national one replaces it (plugins installed by entry point are registered after the
built-in ones).  Labels are English msgids; the Indonesian catalogue ships in
``translations/`` and is announced through the ``translation_dirs`` hook.
"""

from __future__ import annotations

from pathlib import Path

from simpul.engine import hookimpl

__version__ = "1.0.0"

SOURCE = "kukar"
REFERENCE = "Perda Kab. Kutai Kartanegara 14/2012"
PROCEDURES = ("ektp_new_card", "ektp_renewal", "ektp_replacement")
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def N_(message: str) -> str:  # marks a msgid for extraction (pybabel -k N_)
    return message


def _req(key: str, label: str, kind: str = "document") -> dict:
    return {"key": key, "label": label, "label_en": label, "source": SOURCE, "kind": kind, "reference": REFERENCE}


RT_RW_LETTER = _req("rt_rw_letter", N_("Cover letter from the RT/RW (surat pengantar RT/RW)"))
PHOTOS = _req("photos", N_("Three 3\u00d74 cm photos, white background"), kind="photo")
FAMILY_CARD = _req("family_card", N_("Family card (Kartu Keluarga)"))
DAMAGED_CARD = _req("damaged_card", N_("The damaged e-KTP"))
POLICE_LETTER = _req("police_letter", N_("Police report of the lost card (surat keterangan kehilangan)"))


#: the plugin's settings (``plugin_settings`` hook): ``photos`` off
#: (``SIMPUL_SETTINGS='{"kukar": {"photos": false}}'`` or ``SIMPUL_KUKAR_PHOTOS=0``) for an
#: office that photographs residents at the recording desk.
SETTINGS = {"namespace": "kukar", "defaults": {"photos": True}, "environment": {"photos": "SIMPUL_KUKAR_PHOTOS"}}


def rules(procedure: str, data: dict, photos: bool = True) -> list[dict]:
    """The regency's requirements for a case (added to, or replacing, the national ones)."""
    if procedure not in PROCEDURES:
        return []
    result = [dict(RT_RW_LETTER)]
    if photos:
        result.append(dict(PHOTOS))
    if procedure == "ektp_replacement":
        result.append(dict(FAMILY_CARD))
        if data.get("reason") == "damaged":
            result.append(dict(DAMAGED_CARD))
        elif data.get("reason") == "lost":
            result.append(dict(POLICE_LETTER))
    return result


@hookimpl
def plugin_settings():
    return SETTINGS


@hookimpl
def document_requirements(runtime, procedure, data):
    return rules(procedure, data or {}, photos=runtime.plugin_settings("kukar")["photos"])


@hookimpl
def translation_dirs():
    return [str(TRANSLATIONS)]
