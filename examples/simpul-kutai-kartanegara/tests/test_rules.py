"""The plugin's own tests: its rules as plain functions, then through Simpul's hook machinery.

They need no database and install nothing.  Simpul's suite (tests/verification) also
pip-installs this distribution and checks the whole node follows it."""

from __future__ import annotations

import pytest

import simpul_kukar
from simpul.engine import Config, Runtime, requirements_for
from simpul.engine.i18n import load_catalogue


@pytest.fixture
def node(tmp_path):
    """A node with this checkout registered (the installed entry point, if any, blocked)."""

    def make(**settings):
        config = Config(instance_path=tmp_path / "instance", plugins="-kukar", settings=settings)
        return Runtime(config, extra_plugins=[simpul_kukar])

    return make


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


def test_photos_can_be_switched_off(node, tmp_path):
    assert [r["key"] for r in simpul_kukar.rules("ektp_new_card", {}, photos=False)] == ["rt_rw_letter"]
    by_settings = node(kukar={"photos": False})
    assert [r["key"] for r in requirements_for(by_settings, "ektp_new_card", {}) if r["source"] == "kukar"] == [
        "rt_rw_letter"
    ]
    config = Config.from_env({"SIMPUL_KUKAR_PHOTOS": "0", "SIMPUL_PLUGINS": "-kukar"}, instance_path=tmp_path / "i")
    by_environment = Runtime(config, extra_plugins=[simpul_kukar])
    assert "photos" not in [r["key"] for r in requirements_for(by_environment, "ektp_new_card", {})]


def test_simpul_combines_our_rules_with_the_national_baseline(node):
    node = node()
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
