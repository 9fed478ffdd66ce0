"""NIK, KK number and eligibility: properties of the checks, and what a clerk sees when a
case is started with a wrong number."""

from __future__ import annotations

import string
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from simpul import engine
from simpul.engine import Conflict, ValidationFailed
from simpul.engine.models import Case
from simpul.plugins.verification.identity import (
    PROVINCE_CODES,
    check_applicant,
    check_eligibility,
    check_kk_number,
    check_nik,
    parse_nik,
    today_in_indonesia,
)

from ..conftest import OTHER_OFFICE
from ..flows import actor, resident, start_new_card
from .samples import nik_for

TODAY = today_in_indonesia()

regions = st.builds(
    lambda p, r, d: f"{p}{r:02d}{d:02d}",
    st.sampled_from(sorted(PROVINCE_CODES)),
    st.integers(1, 79),
    st.integers(1, 99),
)
births = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
sexes = st.sampled_from(["L", "P"])
serials = st.integers(1, 9999)


@st.composite
def residents(draw):
    birth, sex = draw(births), draw(sexes)
    return nik_for(birth, sex, draw(regions), draw(serials)), birth, sex


# -- properties ----------------------------------------------------------------------------


@given(residents())
def test_every_valid_nik_is_accepted_and_yields_its_birth_date_and_sex(person):
    nik, birth, sex = person
    assert check_nik(nik, birth.isoformat(), sex) == []
    parsed = parse_nik(nik)
    assert parsed.birth_date(century_from=birth) == birth
    assert parsed.sex == sex
    assert parsed.region == nik[:6]


@given(residents(), births)
def test_a_changed_date_part_is_rejected_naming_both_dates(person, other):
    nik, birth, sex = person
    changed = nik_for(other, sex, nik[:6], int(nik[12:]))
    assume(changed[6:12] != nik[6:12])
    errors = check_nik(changed, birth.isoformat(), sex)
    assert len(errors) == 1
    assert "date of birth" in errors[0] and birth.isoformat() in errors[0]


@given(residents(), st.sampled_from([0, *range(13, 100)]))
def test_a_month_outside_1_to_12_is_rejected(person, month):
    nik, birth, sex = person
    bad = nik[:8] + f"{month:02d}" + nik[10:]
    errors = check_nik(bad, birth.isoformat(), sex)
    assert any("month of birth" in e and f"({month:02d})" in e for e in errors), errors


@given(residents(), st.sampled_from([0, *range(32, 41), *range(72, 100)]))
def test_a_day_outside_both_ranges_is_rejected(person, day):
    nik, birth, sex = person
    bad = nik[:6] + f"{day:02d}" + nik[8:]
    errors = check_nik(bad, birth.isoformat(), sex)
    assert any("day of birth" in e and f"({day:02d})" in e for e in errors), errors


def test_day_32_and_72_and_april_31_are_rejected():
    assert "day of birth" in check_nik("6402053207000001")[0]
    assert "day of birth" in check_nik("6402057207000001")[0]
    assert "not a real date" in check_nik("6402053104000001")[0]
    assert "not a real date" in check_nik("6402057104000001")[0]  # a woman born 31 April


def test_29_february_follows_the_entered_century():
    nik = "6402052902000001"  # 29-02-00: a leap day in 2000, not in 1900
    assert check_nik(nik, "2000-02-29", "L") == []
    assert any("not a real date" in e for e in check_nik(nik, "1900-02-28", "L"))


@given(residents(), st.integers(0, 15), st.sampled_from(string.ascii_letters + "-./"))
def test_a_letter_is_rejected_naming_it(person, position, char):
    nik, birth, sex = person
    bad = nik[:position] + char + nik[position + 1 :]
    errors = check_nik(bad, birth.isoformat(), sex)
    assert errors == [f"A NIK has digits only; this one contains \u201c{char}\u201d."]


@given(residents(), st.sampled_from([-1, 1]), st.integers(0, 9))
def test_15_or_17_digits_are_rejected_with_the_count(person, change, digit):
    nik, birth, sex = person
    bad = nik[:-1] if change < 0 else nik + str(digit)
    errors = check_nik(bad, birth.isoformat(), sex)
    assert errors == [f"A NIK has 16 digits; this one has {len(bad)}."]


@given(residents())
def test_the_wrong_sex_is_rejected_saying_which(person):
    nik, birth, sex = person
    other = "P" if sex == "L" else "L"
    errors = check_nik(nik, birth.isoformat(), other)
    assert len(errors) == 1
    assert ("is a woman's" in errors[0]) == (sex == "P")


def test_the_century_is_never_guessed_from_the_nik():
    nik = nik_for(date(1925, 3, 4), "L")
    assert check_nik(nik, "1925-03-04", "L") == []
    assert parse_nik(nik).birth_date(century_from=date(1925, 1, 1)) == date(1925, 3, 4)
    assert parse_nik(nik).birth_date(century_from=date(2025, 1, 1)) == date(2025, 3, 4)


@pytest.mark.parametrize(
    "nik, fragment",
    [
        ("0002054507000001", "province code"),
        ("6400054507000001", "regency or city code"),
        ("6480054507000001", "regency or city code"),
        ("6402004507000001", "district code"),
        ("6402054507000000", "cannot be 0000"),
    ],
)
def test_implausible_region_or_serial_is_rejected(nik, fragment):
    errors = check_nik(nik)
    assert any(fragment in e for e in errors), errors


@given(regions, st.integers(0, 9999_9999))
def test_a_kk_number_needs_16_digits_and_a_plausible_region(region, rest):
    assert check_kk_number(f"{region}{rest:010d}") == []
    assert check_kk_number(f"{region}{rest:09d}"[:15]) == ["A family card number has 16 digits; this one has 15."]
    assert "digits only" in check_kk_number(f"{region}{rest:09d}K")[0]
    assert "province code" in check_kk_number(f"99{region[2:]}{rest:010d}")[0]


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(births, st.sampled_from(["belum_kawin", "kawin", "cerai_hidup", "cerai_mati"]))
def test_eligible_at_17_or_once_married(birth, status):
    age = TODAY.year - birth.year - ((TODAY.month, TODAY.day) < (birth.month, birth.day))
    errors = check_eligibility(birth.isoformat(), status, TODAY)
    assert (errors == []) == (age >= 17 or status != "belum_kawin")
    if errors:
        assert f"the resident is {age} and has never married" in errors[0]


def test_the_seventeenth_birthday_counts():
    birthday = date(TODAY.year - 17, TODAY.month, TODAY.day if (TODAY.month, TODAY.day) != (2, 29) else 28)
    assert check_eligibility(birthday.isoformat(), "belum_kawin", TODAY) == []
    assert check_eligibility((birthday + timedelta(days=1)).isoformat(), "belum_kawin", TODAY) != []
    assert check_eligibility((TODAY + timedelta(days=1)).isoformat(), "kawin", TODAY) == [
        "The date of birth is in the future."
    ]


# -- at the counter: starting a case -------------------------------------------------------


def _count(rt):
    with rt.read() as s:
        return s.scalar(select(func.count()).select_from(Case))


def test_start_refuses_a_nik_that_disagrees_with_the_entered_data(runtime):
    data = resident(1, birth_date="2000-07-06")  # the NIK says 5 July
    with pytest.raises(ValidationFailed) as err:
        engine.start_case(runtime, "ektp_new_card", data, actor(runtime, "operator"))
    assert err.value.errors["nik"] == ["The NIK gives the date of birth 2000-07-05, but 2000-07-06 was entered."]
    with pytest.raises(ValidationFailed) as err:
        engine.start_case(runtime, "ektp_new_card", resident(1, sex="L"), actor(runtime, "operator"))
    assert "is a woman's" in err.value.errors["nik"][0]
    with pytest.raises(ValidationFailed) as err:
        engine.start_case(runtime, "ektp_new_card", resident(1, nik="6402054513000001"), actor(runtime, "operator"))
    assert any("month of birth" in m for m in err.value.errors["nik"])
    assert _count(runtime) == 0


def test_start_refuses_a_bad_kk_number_and_an_ineligible_resident(runtime):
    with pytest.raises(ValidationFailed) as err:
        engine.start_case(
            runtime, "ektp_new_card", resident(1, kk_number="9902051203150004"), actor(runtime, "operator")
        )
    assert "province code" in err.value.errors["kk_number"][0]
    young = date(TODAY.year - 16, 1, 1)
    data = resident(1, nik=nik_for(young, "P"), birth_date=young.isoformat())
    with pytest.raises(ValidationFailed) as err:
        engine.start_case(runtime, "ektp_new_card", data, actor(runtime, "operator"))
    assert "Not yet eligible" in err.value.errors["birth_date"][0]
    assert _count(runtime) == 0
    married = engine.start_case(
        runtime, "ektp_new_card", {**data, "marital_status": "kawin"}, actor(runtime, "operator")
    )
    assert married["status"] == "active"


def test_a_resident_who_moved_keeps_the_nik_of_the_first_region(runtime):
    """A NIK issued in Jakarta, or in the neighbouring kecamatan, is accepted here as it is."""
    birth = date(1990, 1, 2)
    jakarta = resident(1, nik=nik_for(birth, "L", region="317401"), birth_date=birth.isoformat(), sex="L")
    assert engine.start_case(runtime, "ektp_new_card", jakarta, actor(runtime, "operator"))["status"] == "active"
    here = resident(2)  # a NIK of 640205 (Sangasanga) at the Muara Jawa office
    started = engine.start_case(runtime, "ektp_new_card", here, actor(runtime, "other"))
    assert started["office"] == OTHER_OFFICE


def test_a_second_open_case_for_the_nik_is_refused_naming_the_first(runtime):
    first = start_new_card(runtime, 3)["receipt"]
    replacement = resident(3, reason="lost")
    with pytest.raises(Conflict) as err:
        engine.start_case(runtime, "ektp_replacement", replacement, actor(runtime, "operator"))
    assert first in str(err.value) and err.value.errors == {"case": first}
    assert _count(runtime) == 1
    engine.cancel_case(runtime, first, "Salah prosedur", actor(runtime, "camat"))
    again = engine.start_case(runtime, "ektp_replacement", replacement, actor(runtime, "operator"))
    assert again["receipt"] != first


def test_a_case_forwarded_by_another_office_is_not_checked_again():
    data = resident(1, nik="6402054513000001", origin_receipt="640205-2026-00001")
    assert check_applicant({k: v for k, v in data.items() if k != "origin_receipt"})
    from simpul.plugins.verification import validate_case_start

    assert validate_case_start("ektp_regency_printing", "6402", data) is None
