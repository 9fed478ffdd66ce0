"""Put back, one at a time, each one-line bug that a mutation run found passing the whole
relevant test set (issue 15), run the tests that should catch it, and restore the file.

    .venv/bin/python scripts/bug_classes.py            # every bug class
    .venv/bin/python scripts/bug_classes.py hmac_prefix lock_case

Prints one line per bug: ``caught`` (the tests failed, as they must) or ``MISSED``; exits 1
when any was missed.  A file is always restored, also on Ctrl-C.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTEST = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-o", "addopts="]

#: name -> (file, the code as it is, the bug, the tests that must fail)
BUGS = {
    "hmac_prefix": (
        "plugins/coordination/protocol.py",
        'hmac.compare_digest(expected.encode(), (signature or "").encode())',
        'hmac.compare_digest(expected[: len(signature or "")].encode(), (signature or "").encode())',
        ["tests/coordination/test_security.py::test_a_signature_counts_only_in_full"],
    ),
    "office_prefix_inbox": (
        "engine/inbox.py",
        "[HumanTask.office_code == actor.office_code]",
        "[HumanTask.office_code.startswith(actor.office_code)]",
        ["tests/test_bug_classes.py", "-k", "regency_clerk"],
    ),
    "office_prefix_tasks": (
        "engine/cases.py",
        "stmt = stmt.where(HumanTask.office_code == actor.office_code)",
        "stmt = stmt.where(HumanTask.office_code.startswith(actor.office_code))",
        ["tests/test_bug_classes.py", "-k", "regency_clerk"],
    ),
    "office_prefix_cases": (
        "engine/cases.py",
        "            stmt = stmt.where(Case.office_code == actor.office_code)\n        if outcome:",
        "            stmt = stmt.where(Case.office_code.startswith(actor.office_code))\n        if outcome:",
        ["tests/test_bug_classes.py", "-k", "regency_clerk"],
    ),
    "lock_case_no_for_update": (
        "engine/cases.py",
        "stmt = stmt.with_for_update(of=Case)",
        "stmt = stmt",
        ["tests/test_bug_classes.py", "-k", "(cancel_racing or parallel_is_applied) and postgresql"],
    ),
    "timer_latest": (
        "engine/_workflow.py",
        "return min(due) if due else None",
        "return max(due) if due else None",
        ["tests/test_bug_classes.py", "-k", "parallel_timers"],
    ),
    "no_backoff": (
        "engine/_workflow.py",
        "ceiling = base_seconds * (2 ** min(max(0, attempts - 1), 32))",
        "ceiling = base_seconds",
        ["tests/test_bug_classes.py", "-k", "retries_wait"],
    ),
    "forms_not_hashed": (
        "engine/_specs.py",
        '    digest.update(json.dumps(forms, sort_keys=True, ensure_ascii=False).encode("utf-8"))\n',
        "",
        ["tests/test_bug_classes.py", "-k", "form_only"],
    ),
    "size_limit_inclusive": (
        "engine/documents.py",
        "if len(content) > max_bytes:",
        "if len(content) >= max_bytes:",
        ["tests/test_bug_classes.py", "-k", "exactly_at_the_limit and sqlite"],
    ),
    "verifier_overrides": (
        "plugins/verification/requirements.py",
        'if actor is None or not actor.has_role("supervisor"):',
        'if actor is None or not (actor.has_role("supervisor") or actor.has_role("verifier")):',
        ["tests/verification/test_requirements.py", "-k", "verifier_who_is_no_supervisor and sqlite"],
    ),
    "admin_new_user_open": (
        "web/admin.py",
        '@bp.route("/admin/users/new", methods=["GET", "POST"])\n@role_required("system_admin")',
        '@bp.route("/admin/users/new", methods=["GET", "POST"])\n@login_required',
        ["tests/web/test_web_admin.py", "-k", "no_admin_page and sqlite"],
    ),
    "admin_edit_user_open": (
        "web/admin.py",
        '@bp.route("/admin/users/<username>", methods=["GET", "POST"])\n@role_required("system_admin")',
        '@bp.route("/admin/users/<username>", methods=["GET", "POST"])\n@login_required',
        ["tests/web/test_web_admin.py", "-k", "no_admin_page and sqlite"],
    ),
    "incident_not_open": (
        "engine/cases.py",
        '        Case.__table__.c.office_code == bindparam("office"),\n'
        "        Case.__table__.c.status.in_(OPEN_STATUSES),\n",
        '        Case.__table__.c.office_code == bindparam("office"),\n        Case.__table__.c.status == "active",\n',
        ["tests/test_bug_classes.py", "-k", "in_incident and sqlite"],
    ),
}


def run(name: str) -> bool:
    relative, original, bug, tests = BUGS[name]
    path = ROOT / relative
    text = path.read_text()
    if text.count(original) != 1:
        print(f"{name}: the code to break is not found once in {relative} (was it changed?)")
        return False
    try:
        path.write_text(text.replace(original, bug))
        proc = subprocess.run([*PYTEST, *tests], cwd=ROOT, capture_output=True, text=True)
    finally:
        path.write_text(text)
    caught = proc.returncode == 1
    last = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
    print(f"{name:26} {'caught' if caught else 'MISSED'}  ({last})", flush=True)
    return caught


def main(names: list[str]) -> int:
    missed = [n for n in (names or list(BUGS)) if not run(n)]
    print(f"{len(names or BUGS) - len(missed)} of {len(names or BUGS)} bugs caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
