"""Identity numbers and eligibility: the NIK, the family-card (KK) number, and who may apply.

A NIK is 16 digits: province (2), regency/city (2), district (2), date of birth DDMMYY with
40 added to the day for a woman, and a serial (4).  Two rules the study's offices learnt the
hard way:

* the century is never guessed from the NIK: it comes from the date of birth the clerk
  entered (a "05" year is 1905 for one resident and 2005 for another);
* the region part is where the NIK was first issued, and it never changes when a resident
  moves: it is checked for plausibility, never against the office handling the case.

Every function returns messages as the hook contract asks (``simpul.engine.i18n``): a msgid,
or a ``Message`` carrying the msgid and its values; the web layer and ``simpul`` translate
them where they are shown.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from simpul.engine import N_, Message

#: Kemendagri province codes (incl. the Papua provinces created in 2022).
PROVINCE_CODES = frozenset(
    {
        "11",
        "12",
        "13",
        "14",
        "15",
        "16",
        "17",
        "18",
        "19",
        "21",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "51",
        "52",
        "53",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "72",
        "73",
        "74",
        "75",
        "76",
        "81",
        "82",
        "91",
        "92",
        "93",
        "94",
        "95",
        "96",
    }
)

ELIGIBLE_AGE = 17
EVER_MARRIED = frozenset({"kawin", "cerai_hidup", "cerai_mati"})
WOMAN_DAY_OFFSET = 40

MSG_DIGITS_ONLY = N_("A NIK has digits only; this one contains \u201c{char}\u201d.")
MSG_LENGTH = N_("A NIK has 16 digits; this one has {count}.")
MSG_KK_DIGITS_ONLY = N_("A family card number has digits only; this one contains \u201c{char}\u201d.")
MSG_KK_LENGTH = N_("A family card number has 16 digits; this one has {count}.")
MSG_PROVINCE = N_("Digits 1\u20132 ({code}) are not an Indonesian province code.")
MSG_REGENCY = N_("Digits 3\u20134 ({code}) are not a regency or city code (01\u201379).")
MSG_DISTRICT = N_("Digits 5\u20136 ({code}) are not a district code (01\u201399).")
MSG_DAY = N_(
    "Digits 7\u20138 ({code}) are not a day of birth: 01\u201331 for a man, 41\u201371 for a woman (day + 40)."
)
MSG_MONTH = N_("Digits 9\u201310 ({code}) are not a month of birth (01\u201312).")
MSG_NO_SUCH_DATE = N_("Digits 7\u201312 ({code}) are not a real date of birth.")
MSG_SERIAL = N_("Digits 13\u201316 are a serial number and cannot be 0000.")
MSG_DATE_MISMATCH = N_("The NIK gives the date of birth {nik_date}, but {entered} was entered.")
MSG_NIK_SAYS_WOMAN = N_("The NIK is a woman's (day of birth + 40), but the sex entered is male.")
MSG_NIK_SAYS_MAN = N_("The NIK is a man's (day of birth without + 40), but the sex entered is female.")
MSG_BIRTH_FUTURE = N_("The date of birth is in the future.")
MSG_NOT_ELIGIBLE = N_(
    "Not yet eligible for an e-KTP: the resident is {age} and has never married "
    "(the card is for residents aged 17 or older, or married or once married)."
)


class NikError(ValueError):
    """The NIK's structure is wrong; ``messages`` says what, one message per fault."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class Nik:
    """A structurally valid NIK, taken apart."""

    number: str
    province: str
    regency: str
    district: str
    day: int  # the day of birth (40 already taken off for a woman)
    month: int
    year2: int  # the last two digits of the year of birth
    sex: str  # "L" (laki-laki) or "P" (perempuan)
    serial: str

    @property
    def region(self) -> str:
        """Where the NIK was first issued (province + regency + district)."""
        return self.province + self.regency + self.district

    def birth_date(self, century_from: date) -> date:
        """The date of birth, its century taken from ``century_from`` (the entered date of birth).

        Raises ValueError when the day does not exist in that year (29 February)."""
        year = century_from.year - century_from.year % 100 + self.year2
        return date(year, self.month, self.day)

    def date_code(self) -> str:
        return f"{self.day:02d}-{self.month:02d}-{self.year2:02d}"


def _length_and_digits(number: str, msg_chars: str, msg_length: str) -> list[str]:
    bad = next((c for c in number if not "0" <= c <= "9"), None)
    if bad is not None:
        return [Message(msg_chars, char=bad)]
    if len(number) != 16:
        return [Message(msg_length, count=len(number))]
    return []


def _region_errors(number: str) -> list[str]:
    errors = []
    if number[0:2] not in PROVINCE_CODES:
        errors.append(Message(MSG_PROVINCE, code=number[0:2]))
    if not 1 <= int(number[2:4]) <= 79:
        errors.append(Message(MSG_REGENCY, code=number[2:4]))
    if not 1 <= int(number[4:6]) <= 99:
        errors.append(Message(MSG_DISTRICT, code=number[4:6]))
    return errors


def parse_nik(value) -> Nik:
    """Take a NIK apart, or raise NikError saying every fault found.

    A 29 February is accepted when its two-digit year is a leap year in some century; whether
    it exists is settled by ``check_nik`` with the entered date of birth."""
    number = "" if value is None else str(value).strip()
    errors = _length_and_digits(number, MSG_DIGITS_ONLY, MSG_LENGTH)
    if errors:
        raise NikError(errors)
    errors = _region_errors(number)
    raw_day, month, year2 = int(number[6:8]), int(number[8:10]), int(number[10:12])
    if 1 <= raw_day <= 31:
        day, sex = raw_day, "L"
    elif WOMAN_DAY_OFFSET + 1 <= raw_day <= WOMAN_DAY_OFFSET + 31:
        day, sex = raw_day - WOMAN_DAY_OFFSET, "P"
    else:
        day, sex = None, None
        errors.append(Message(MSG_DAY, code=number[6:8]))
    if not 1 <= month <= 12:
        errors.append(Message(MSG_MONTH, code=number[8:10]))
    elif day is not None:
        # Years ending in 00 are leap in 2000, so "00" keeps 29 February possible.
        leap_possible = year2 % 4 == 0
        if day > calendar.monthrange(2000 if leap_possible else 2001, month)[1]:
            errors.append(Message(MSG_NO_SUCH_DATE, code=number[6:12]))
    if number[12:16] == "0000":
        errors.append(MSG_SERIAL)
    if errors:
        raise NikError(errors)
    return Nik(
        number=number,
        province=number[0:2],
        regency=number[2:4],
        district=number[4:6],
        day=day,
        month=month,
        year2=year2,
        sex=sex,
        serial=number[12:16],
    )


def _as_date(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def check_nik(nik, birth_date=None, sex=None) -> list[str]:
    """Every fault of ``nik``, and every disagreement with the date of birth and sex entered.

    ``birth_date`` (a date or ``YYYY-MM-DD``) gives the century; without it only the structure
    is checked.  An empty list means the NIK is accepted."""
    try:
        parsed = parse_nik(nik)
    except NikError as exc:
        return list(exc.messages)
    errors = []
    entered = _as_date(birth_date)
    if entered is not None:
        try:
            from_nik = parsed.birth_date(century_from=entered)
        except ValueError:  # 29 February in a year of that century that is not leap
            errors.append(Message(MSG_NO_SUCH_DATE, code=parsed.number[6:12]))
        else:
            if from_nik != entered:
                errors.append(Message(MSG_DATE_MISMATCH, nik_date=from_nik.isoformat(), entered=entered.isoformat()))
    if sex in ("L", "P") and sex != parsed.sex:
        errors.append(MSG_NIK_SAYS_WOMAN if parsed.sex == "P" else MSG_NIK_SAYS_MAN)
    return errors


def check_kk_number(value) -> list[str]:
    """A family-card number: 16 digits with a plausible region part (it need not be the NIK's)."""
    number = "" if value is None else str(value).strip()
    return _length_and_digits(number, MSG_KK_DIGITS_ONLY, MSG_KK_LENGTH) or _region_errors(number)


def today_in_indonesia() -> date:
    """Today's date in Indonesia's easternmost time zone (WIT, UTC+9), so that nobody whose
    birthday has begun anywhere in the country is turned away."""
    return datetime.now(timezone(timedelta(hours=9))).date()


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def check_eligibility(birth_date, marital_status, today: date | None = None) -> list[str]:
    """17 or older, or married or once married (Law 23/2006 art. 63)."""
    birth = _as_date(birth_date)
    if birth is None:
        return []
    today = today or today_in_indonesia()
    if birth > today:
        return [MSG_BIRTH_FUTURE]
    age = age_on(birth, today)
    if age >= ELIGIBLE_AGE or marital_status in EVER_MARRIED:
        return []
    return [Message(MSG_NOT_ELIGIBLE, age=age)]


def check_applicant(data: dict, today: date | None = None) -> dict[str, list[str]]:
    """The start-of-case checks on an application's fields: ``{field: [message, ...]}``."""
    errors: dict[str, list[str]] = {}
    if "nik" in data:
        found = check_nik(data.get("nik"), data.get("birth_date"), data.get("sex"))
        if found:
            errors["nik"] = found
    if data.get("kk_number") not in (None, ""):
        found = check_kk_number(data.get("kk_number"))
        if found:
            errors["kk_number"] = found
    if "birth_date" in data:
        found = check_eligibility(data.get("birth_date"), data.get("marital_status"), today)
        if found:
            errors["birth_date"] = found
    return errors
