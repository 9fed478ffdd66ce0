"""The procedure pages a resident opens on a phone: no sign-in, no script, light, and listing
the documents the installed plugins ask for (a regency's rule included)."""

from __future__ import annotations

import re

import pytest

PAGES = ("/layanan", "/en/layanan", "/layanan/ektp_replacement", "/en/layanan/ektp_replacement", "/cek", "/en/cek")


def _assert_light_and_self_contained(response):
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[:300]
    assert len(response.data) < 50 * 1024
    assert "<script" not in html
    assert not re.search(r"""(src|href|action)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html  # no stylesheet to fetch either: the page is one request
    return html


def test_procedure_pages_answer_without_a_session(app):
    client = app.test_client()
    for path in PAGES:
        html = _assert_light_and_self_contained(client.get(path))
        assert "Masuk" not in html or "/login" not in html  # not the sign-in page
    indonesian = client.get("/layanan/ektp_new_card").get_data(as_text=True)
    english = client.get("/en/layanan/ektp_new_card").get_data(as_text=True)
    assert 'lang="id"' in indonesian and "Yang perlu dibawa" in indonesian and "Langkah" in indonesian
    assert 'lang="en"' in english and "What to bring" in english and "Steps" in english
    assert "Kartu Keluarga (KK)" in indonesian  # the national baseline, from the verification plugin
    assert "Family card (Kartu Keluarga)" in english
    assert client.get("/layanan/no_such_service").status_code == 404


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_regency_plugins_requirement_appears_on_the_public_page(police_runtime, tmp_path):
    from simpul.web import create_app

    from ..conftest import INSTALLED_PLUGINS_BLOCKED, make_runtime

    with_rule = create_app(runtime=police_runtime, config={"TESTING": True}).test_client()
    # the same node with the rule uninstalled (and any regency plugin installed here, which may have it too)
    plain = make_runtime(police_runtime.config.database_url, tmp_path / "plain", plugins=INSTALLED_PLUGINS_BLOCKED)
    without = create_app(runtime=plain, config={"TESTING": True}).test_client()
    page = with_rule.get("/en/layanan/ektp_replacement").get_data(as_text=True)
    lost = page.split("Card lost", 1)[1].split("Card damaged", 1)[0]
    damaged = page.split("Card damaged", 1)[1]
    assert "Police report of the lost card" in lost
    assert "Police report of the lost card" not in damaged and "The damaged e-KTP" in damaged
    assert "Police report" not in without.get("/en/layanan/ektp_replacement").get_data(as_text=True)


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_the_office_setting_and_measured_duration_are_shown(runtime, app):
    from .conftest import seed_finished

    runtime.config.settings.update(
        office_address="Jl. Pahlawan 1, Sangasanga",
        office_hours="Senin-Kamis 08.00-14.00",
        socialization_stats_seconds=0,
    )
    client = app.test_client()
    page = client.get("/layanan/ektp_new_card").get_data(as_text=True)
    assert "Jl. Pahlawan 1, Sangasanga" in page and "Senin-Kamis 08.00-14.00" in page
    assert "Belum cukup kartu" in page  # no history yet: no made-up duration
    seed_finished(runtime, 4, (1, 2, 1, 1, 10, 2))
    page = client.get("/en/layanan/ektp_new_card").get_data(as_text=True)
    assert "Typically 17 days from application to handover." in page
    assert "Based on 4 cards handed over by this office in the last 90 days." in page
    assert "The regency returned cards in a median of 10 days." in page
