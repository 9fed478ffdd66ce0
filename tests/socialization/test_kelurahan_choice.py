"""A case's kelurahan is chosen from the office directory, not typed."""

from __future__ import annotations

import pytest

from simpul import engine
from simpul.engine import ValidationFailed

from ..flows import actor, resident
from ..web.web_helpers import Browser
from .registry_data import KELURAHAN, seed_kelurahan


def test_the_kelurahan_list_comes_from_the_directory(runtime):
    seed_kelurahan(runtime)
    assert [k["code"] for k in engine.kelurahan_list(runtime, "640205")] == [c for c, _n in KELURAHAN]
    assert engine.kelurahan_list(runtime, "640206") == [{"code": "6402061001", "name": "Kelurahan Muara Jawa Ulu"}]


def test_a_case_takes_a_kelurahan_of_its_office_only(runtime):
    seed_kelurahan(runtime)
    clerk = actor(runtime, "operator")
    with pytest.raises(ValidationFailed) as refused:
        engine.start_case(runtime, "ektp_new_card", resident(1, kelurahan="Muara Jawa Ulu"), clerk)
    assert "kelurahan" in refused.value.errors
    started = engine.start_case(runtime, "ektp_new_card", resident(2, kelurahan="Sangasanga Dalam"), clerk)
    case = engine.get_case(runtime, started["receipt"], clerk)
    assert case["data"]["kelurahan"] == "Kelurahan Sangasanga Dalam"  # the directory's name
    by_code = engine.start_case(runtime, "ektp_new_card", resident(3, kelurahan=KELURAHAN[1][0]), clerk)
    assert engine.get_case(runtime, by_code["receipt"], clerk)["data"]["kelurahan"] == KELURAHAN[1][1]


def test_the_start_form_offers_a_select(app, runtime):
    seed_kelurahan(runtime)
    b = Browser(app)
    b.login("operator")
    html = b.get("/cases/new/ektp_new_card").get_data(as_text=True)
    select = html.split('name="kelurahan"')[1].split("</select>")[0]
    assert all(f">{name}</option>" in select for _c, name in KELURAHAN)
    assert "Muara Jawa" not in select
