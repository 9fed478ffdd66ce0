"""Built-in plugins are written as a third party would write them: they import only what
``simpul.engine`` exports (its ``__all__``), never the engine's own modules, the CLI or the
web app.  A public submodule of the engine (in ``__all__``, such as ``i18n``) and another
plugin's package itself (its documented API, e.g. ``simpul.plugins.verification``'s NIK
rules, which a third party could depend on the same way) are allowed; their inner modules
are not.  The acceptance plugin of the contract is held to the same rule."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from simpul import engine

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_ONLY = [
    ROOT / "plugins" / "verification",
    ROOT / "plugins" / "socialization",
    ROOT / "plugins" / "coordination",
    ROOT / "tests" / "plugin_samples" / "tally.py",
]


def sources():
    for place in PUBLIC_ONLY:
        yield from sorted(place.rglob("*.py")) if place.is_dir() else [place]


def private_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("simpul"):
            if node.module == "simpul":
                found += [f"simpul.{a.name}" for a in node.names if a.name != "engine"]
            elif node.module == "simpul.engine":
                found += [f"simpul.engine.{a.name}" for a in node.names if a.name not in engine.__all__]
            elif node.module.startswith("simpul.engine.") and node.module.split(".")[2] in engine.__all__:
                continue  # a public submodule (simpul.engine.i18n, ...)
            elif node.module.count(".") == 2 and node.module.startswith("simpul.plugins."):
                continue  # another plugin's package API, not its inner modules
            else:
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("simpul") and a.name != "simpul.engine"]
    return found


@pytest.mark.parametrize("path", list(sources()), ids=lambda p: str(p.relative_to(ROOT)))
def test_plugin_uses_only_the_public_engine_api(path):
    assert private_imports(path) == []


def test_the_check_sees_a_private_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from simpul.engine.cases import requirements_for\nfrom simpul.cli import main\n")
    assert private_imports(probe) == ["simpul.engine.cases", "simpul.cli"]
