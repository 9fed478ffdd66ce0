"""The engine's visible API: what ``simpul.engine`` exports is what the rest calls.

* every exported name exists and says what it is (a docstring, or a module named in the
  package docstring as a public submodule);
* the engine's modules import one another without circles, lazy imports included;
* web/, cli/ and the built-in plugins import from ``simpul.engine`` and its documented public
  submodules only, never a private (``_``) module or name;
* web pages run no ORM queries of their own: they call engine functions.
"""

from __future__ import annotations

import ast
import inspect
import types
from pathlib import Path

import simpul.engine

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "engine"

#: folders whose code must go through the engine's API
API_USERS = ("web", "cli", "plugins/verification", "plugins/socialization", "plugins/coordination")


def _public_modules() -> set[str]:
    return {n for n in simpul.engine.__all__ if isinstance(getattr(simpul.engine, n, None), types.ModuleType)}


def _imports(path: Path) -> list[tuple[str | None, list[str], int, int]]:
    """(module, names, level, line) of every import in a file, inside functions too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            found.append((node.module, [a.name for a in node.names], node.level, node.lineno))
        elif isinstance(node, ast.Import):
            found.extend((a.name, [], 0, node.lineno) for a in node.names)
    return found


def _engine_graph() -> dict[str, set[str]]:
    modules = {p.stem for p in ENGINE.glob("*.py") if p.stem != "__init__"}
    graph: dict[str, set[str]] = {}
    for name in modules:
        edges = set()
        for module, names, level, _line in _imports(ENGINE / f"{name}.py"):
            if level == 1 and module is None:  # from . import sandbox
                edges.update(n for n in names if n in modules)
            elif level == 1 and module:
                edges.add(module.split(".")[0])
            elif level == 0 and module and module.startswith("simpul.engine."):
                edges.add(module.split(".")[2])
        graph[name] = edges & modules
    return graph


def test_every_exported_name_exists_and_is_documented():
    engine = simpul.engine
    assert len(set(engine.__all__)) == len(engine.__all__), "a name is listed twice in __all__"
    missing = [n for n in engine.__all__ if not hasattr(engine, n)]
    assert missing == [], f"exported but not defined: {missing}"
    undocumented = []
    for name in engine.__all__:
        value = getattr(engine, name)
        if isinstance(value, types.ModuleType):
            if f"``{name}``" not in (engine.__doc__ or ""):
                undocumented.append(f"{name} (module not named in the package docstring)")
        elif (inspect.isfunction(value) or inspect.isclass(value)) and not inspect.getdoc(value):
            undocumented.append(name)
    assert undocumented == [], f"exported without a docstring: {undocumented}"
    private = [n for n in engine.__all__ if n.startswith("_")]
    assert private == []


def test_engine_modules_import_each_other_without_circles():
    graph = _engine_graph()
    cycles = []

    def visit(node, path):
        for nxt in sorted(graph[node]):
            if nxt in path:
                cycles.append(" -> ".join(path[path.index(nxt) :] + [nxt]))
            elif nxt not in done:
                visit(nxt, path + [nxt])
        done.add(node)

    done: set[str] = set()
    for start in sorted(graph):
        if start not in done:
            visit(start, [start])
    assert cycles == [], f"import circles in the engine: {cycles}"


def test_web_cli_and_plugins_use_only_the_engine_api():
    public = _public_modules()
    offenders = []
    for folder in API_USERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            where = path.relative_to(ROOT)
            for module, names, level, line in _imports(path):
                if level or not module or not module.startswith("simpul.engine"):
                    continue
                parts = module.split(".")[2:]
                if [p for p in parts if p.startswith("_")] or [n for n in names if n.startswith("_")]:
                    offenders.append(f"{where}:{line}: private {module} {names}")
                elif parts and parts[0] not in public:
                    offenders.append(f"{where}:{line}: {module} is not a public engine module")
                elif not parts:
                    unknown = [n for n in names if n not in simpul.engine.__all__]
                    if unknown:
                        offenders.append(f"{where}:{line}: {unknown} not exported by simpul.engine")
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):  # engine.<module>.<name> through `from simpul import engine`
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "engine"
                    and node.attr not in simpul.engine.__all__
                ):
                    offenders.append(f"{where}:{node.lineno}: engine.{node.attr} is not exported")
    assert offenders == [], "\n".join(offenders)


def test_nothing_outside_the_engine_reaches_into_a_private_engine_module():
    # every plugin (coordination too) and the example regency plugin; tests/ and bench/ test
    # and time the engine's internals themselves, so they may import them.
    offenders = []
    for folder in ("web", "cli", "plugins", "examples"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for module, names, _level, line in _imports(path):
                if not module or not module.startswith("simpul.engine"):
                    continue
                parts = module.split(".")[2:]
                private = [p for p in parts if p.startswith("_")] + [n for n in names if n.startswith("_")]
                if private:
                    offenders.append(f"{path.relative_to(ROOT)}:{line}: {module} {private}")
    assert offenders == [], "\n".join(offenders)


def test_web_pages_read_through_engine_functions_not_orm_queries():
    offenders = []
    for path in sorted((ROOT / "web").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for needle in ("db.session", "select(", ".query(", "session.execute", "session.scalar", ".read() as"):
            if needle in text:
                offenders.append(f"web/{path.name}: {needle}")
        for module, _names, level, line in _imports(path):
            if not level and module and module.startswith("sqlalchemy"):
                offenders.append(f"web/{path.name}:{line}: imports {module}")
    assert offenders == [], "\n".join(offenders)
