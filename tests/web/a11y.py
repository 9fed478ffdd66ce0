"""axe-core in the browser tests: the npm package's axe.min.js is injected into the Playwright
page and run there (the context needs ``bypass_csp=True``: the app's CSP allows no inline
script); a page passes when no violation is serious or critical."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


def axe_violations(page, within: str | None = None) -> list[dict]:
    """The serious and critical axe-core violations of the page as it is now (only the part
    matching the CSS selector ``within``, when given)."""
    if not AXE.is_file():
        reason = f"axe-core is not installed at {AXE} (npm ci)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " -- required in CI")
        pytest.skip(reason)
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async (within) => {
          const scope = within ? document.querySelector(within) : document;
          const r = await window.axe.run(scope, {resultTypes: ['violations']});
          return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + (n.failureSummary || ''))}));
        }""",
        within,
    )
    return [v for v in result if v["impact"] in BLOCKING]


def assert_accessible(page, where: str, within: str | None = None) -> None:
    found = axe_violations(page, within)
    assert not found, f"{where}: serious accessibility violations:\n" + json.dumps(found, indent=1, ensure_ascii=False)
