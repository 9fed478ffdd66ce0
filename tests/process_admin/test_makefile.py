"""The setup stamp is rebuilt (and the modeler bundled again) when a modeler source changes."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "web" / "static" / "process_admin" / "src").iterdir())


def _dry_run(stamp: Path, *what_if: Path) -> str:
    args = ["make", "-n", f"STAMP={stamp}", "setup"]
    for path in what_if:
        args[1:1] = ["-W", str(path.relative_to(ROOT))]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True).stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_a_changed_modeler_source_rebuilds_the_bundle(tmp_path, source):
    stamp = tmp_path / ".installed"
    stamp.touch()
    newest = max(
        p.stat().st_mtime
        for p in [*SOURCES, *(ROOT / name for name in ("setup.cfg", "setup.py", "pyproject.toml", "package.json"))]
    )
    os.utime(stamp, (newest + 60, newest + 60))
    assert "npm run build" not in _dry_run(stamp)  # up to date: nothing to do
    assert "npm run build" in _dry_run(stamp, source)
