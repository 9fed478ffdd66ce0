"""Demo data for a first look: the Sangasanga kecamatan, its kelurahan, the regency registry
office, one user per role, and a few cases at different steps."""

from __future__ import annotations

from simpul import engine
from simpul.engine import Conflict

KELURAHAN = [("6402051001", "Kelurahan Sangasanga Dalam"), ("6402051002", "Kelurahan Sangasanga Muara")]

DEMO_USERS = [
    # username, display name, roles, office: None = the kecamatan, "regency" = the regency office
    ("operator", "Siti Rahmawati", ["operator"], None),
    ("operator2", "Andi Pratama", ["operator"], None),
    ("verifier", "Budi Santoso (Kelurahan)", ["verifier"], None),
    ("camat", "Drs. H. Camat Sangasanga", ["supervisor", "operator", "verifier"], None),
    ("admin", "Admin Proses", ["process_admin", "system_admin"], None),
    ("disdukcapil", "Petugas Disdukcapil", ["regency_officer"], "regency"),
]

DEMO_PASSWORD = "simpul-demo"

RESIDENTS = [
    (
        "ektp_new_card",
        {
            "nik": "6402054507080001",
            "resident_name": "Nur Aisyah",
            "birth_date": "2008-07-05",
            "sex": "P",
            "birth_place": "Sangasanga",
            "kk_number": "6402051203150004",
            "marital_status": "belum_kawin",
            "address": "Jl. Merdeka No. 4",
            "rt": "004",
            "rw": "002",
            "kelurahan": "Sangasanga Dalam",
        },
    ),
    (
        "ektp_new_card",
        {
            "nik": "6402051109070002",
            "resident_name": "Rizky Ramadhan",
            "birth_date": "2007-09-11",
            "sex": "L",
            "birth_place": "Samarinda",
            "kk_number": "6402051203150009",
            "marital_status": "belum_kawin",
            "address": "Jl. Pahlawan No. 12",
            "rt": "001",
            "rw": "003",
            "kelurahan": "Sangasanga Muara",
        },
    ),
    (
        "ektp_replacement",
        {
            "nik": "6402052312850003",
            "resident_name": "Hendra Wijaya",
            "birth_date": "1985-12-23",
            "sex": "L",
            "birth_place": "Tenggarong",
            "kk_number": "6402051203150011",
            "marital_status": "kawin",
            "address": "Jl. Sungai No. 7",
            "rt": "002",
            "rw": "001",
            "kelurahan": "Sangasanga Dalam",
            "reason": "lost",
        },
    ),
]


def _hash(password: str) -> str | None:
    try:
        from argon2 import PasswordHasher
    except ImportError:  # the web app's extra is missing; users can still act on the CLI
        return None
    return PasswordHasher().hash(password)


def load_demo(runtime) -> None:
    cfg = runtime.config
    password_hash = _hash(DEMO_PASSWORD)
    with runtime.transaction() as uow:
        for code, name in KELURAHAN:
            engine.ensure_office(uow.session, code, name, "kelurahan", parent_code=cfg.office_code)
        for username, display, roles, office in DEMO_USERS:
            code = cfg.regency_code if office == "regency" else cfg.office_code
            if not engine.user_exists(uow.session, username):
                engine.create_user(uow.session, username, display, code, roles, password_hash)
    if engine.has_cases(runtime):
        return  # demo cases exist already
    clerk = engine.actor_for(runtime, "operator")
    for process, data in RESIDENTS:
        try:
            engine.start_case(runtime, process, data, clerk)
        except Conflict:
            pass
