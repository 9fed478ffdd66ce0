"""The plugin's own tests: its rules as plain functions, then through Simpul's hook machinery.

They need no database and install nothing.  Simpul's suite (tests/verification) also
pip-installs this distribution and checks the whole node follows it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import simpul_kukar
from simpul.engine import requirements_for
from simpul.engine.i18n import load_catalogue
from simpul.engine.plugins import make_plugin_manager


def keys(procedure, **data):
    return [r["key"] for r in simpul_kukar.rules(procedure, data)]


def test_a_lost_card_needs_the_police_letter():
    assert keys("ektp_replacement", reason="lost") == ["rt_rw_letter", "photos", "family_card", "police_letter"]


def test_a_damaged_card_needs_the_card_not_the_police_letter():
    assert keys("ektp_replacement", reason="damaged") == ["rt_rw_letter", "photos", "family_card", "damaged_card"]


@pytest.mark.parametrize("procedure", ["ektp_new_card", "ektp_renewal"])
def test_every_procedure_needs_the_rt_rw_letter_and_photos(procedure):
    assert keys(procedure) == ["rt_rw_letter", "photos"]
    photos = simpul_kukar.rules(procedure, {})[1]
    assert photos["kind"] == "photo" and photos["source"] == "kukar"


def test_other_procedures_are_left_alone():
    assert keys("ektp_regency_printing") == []


def test_photos_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("SIMPUL_KUKAR_PHOTOS", "0")
    assert keys("ektp_new_card") == ["rt_rw_letter"]


def test_simpul_combines_our_rules_with_the_national_baseline():
    # Block the installed entry point (if any) and register this checkout instead.
    pm = make_plugin_manager("-kukar", extra_plugins=[simpul_kukar])
    node = SimpleNamespace(hook=pm.hook)
    lost = requirements_for(node, "ektp_replacement", {"reason": "lost"})
    assert [r["key"] for r in lost] == ["rt_rw_letter", "photos", "family_card", "police_letter"]
    new = {r["key"]: r["source"] for r in requirements_for(node, "ektp_new_card", {})}
    assert new == {"family_card": "national", "rt_rw_letter": "kukar", "photos": "kukar"}


def test_every_label_has_its_indonesian_translation():
    catalogue = load_catalogue(str(simpul_kukar.TRANSLATIONS), "id")  # the .po, as Simpul reads it
    for procedure, data in [
        ("ektp_new_card", {}),
        ("ektp_replacement", {"reason": "lost"}),
        ("ektp_replacement", {"reason": "damaged"}),
    ]:
        for item in simpul_kukar.rules(procedure, data):
            assert catalogue.gettext(item["label"]) != item["label"], item["key"]
