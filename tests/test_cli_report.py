"""``simpul report monthly`` and ``simpul supervise``, as a camat's script drives them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from openpyxl import load_workbook

from .flows import resident
from .test_cli import _all_documents, _do, node  # noqa: F401  (the node fixture)

REJECT = {"residence_verified": False, "rejection_reason": "alamat salah", "kelurahan_officer": "Budi"}


def test_monthly_recap_and_reopen_from_the_command_line(node, tmp_path):  # noqa: F811
    simpul = node
    month = datetime.now(UTC).strftime("%Y-%m")

    def recap_now():
        return json.loads(simpul("report", "monthly", "--month", month, "--format", "json", "--as", "camat"))

    before = recap_now()  # the demo's cases
    receipts = []
    for n in (21, 22):
        started = simpul(
            "cases", "start", "ektp_new_card", "--data", json.dumps(resident(n)), "--as", "operator", "--json"
        )
        receipts.append(started["receipt"])
    _do(simpul, receipts[0], "operator", _all_documents(simpul, "ektp_new_card"))
    _do(simpul, receipts[0], "verifier", REJECT)
    listed = simpul("cases", "list", "--outcome", "rejected", "--as", "camat", "--json")
    assert [c["receipt"] for c in listed] == [receipts[0]] and listed[0]["outcome"] == "rejected"

    recap = recap_now()
    assert (recap["month"], recap["office"]) == (month, "640205")
    assert recap["applications"] - before["applications"] == 2
    assert recap["rejected"] - before["rejected"] == 1
    assert recap["open_at_end"] - before["open_at_end"] == 1
    assert set(recap) >= {"recorded", "sent", "printed", "handed_over", "suket", "by_kelurahan"}
    out = tmp_path / "recap.xlsx"
    simpul("report", "monthly", "--month", month, "--format", "xlsx", "-o", str(out), "--as", "camat")
    total = next(r for r in load_workbook(out).active.iter_rows(values_only=True) if r and r[0] == "Jumlah")
    assert total[1] == recap["applications"]
    bad = simpul("report", "monthly", "--month", "2026-13", "--as", "camat", ok=False)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr

    refused = simpul("supervise", "reopen", receipts[0], "--reason", "salah", "--as", "operator", ok=False)
    assert refused.returncode != 0
    reopened = simpul("supervise", "reopen", receipts[0], "--reason", "alamat benar", "--as", "camat", "--json")
    assert reopened["status"] == "active"
    shown = simpul("cases", "show", receipts[0], "--as", "camat", "--json")
    assert shown["events"][-1]["kind"] == "case_reopened" and shown["events"][-1]["detail"] == "alamat benar"
