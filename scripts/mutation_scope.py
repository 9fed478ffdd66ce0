"""Write a patch whose added lines are the code a mutation run should cover, for
``mutmut run --use-patch-file``: the functions (or line ranges) named below, where issue 15's
mutation run found bugs that passed the tests.  ``python scripts/mutation_scope.py > scope.patch``."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: file -> functions (by name) or module-level assignments (by target name) to mutate
SCOPE = {
    "plugins/coordination/protocol.py": ["verify"],
    "engine/inbox.py": ["_office_clause"],
    "engine/cases.py": ["lock_case", "_OPEN_CASE_OF"],
    "engine/_workflow.py": ["next_timer", "backoff"],
    "engine/_specs.py": ["content_hash"],
    "engine/documents.py": ["check_content"],
    "plugins/verification/requirements.py": ["override_reason"],
    "web/admin.py": ["user_new", "user_edit"],
}


def _ranges(path: Path, names: list[str]) -> list[tuple[int, int]]:
    found = {}
    for node in ast.walk(ast.parse(path.read_text())):
        name = getattr(node, "name", None) if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else None
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
        if name in names and name not in found:
            start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            found[name] = (start, node.end_lineno)
    if set(found) != set(names):
        raise SystemExit(f"{path}: not found: {sorted(set(names) - set(found))}")
    return sorted(found.values())


def main() -> None:
    out = []
    for relative, names in SCOPE.items():
        lines = (ROOT / relative).read_text().splitlines()
        # no a/ b/ prefixes: mutmut looks the files up by these paths as they are
        out += [f"diff --git {relative} {relative}", f"--- {relative}", f"+++ {relative}"]
        for start, end in _ranges(ROOT / relative, names):
            count = end - start + 1
            out.append(f"@@ -{start - 1},0 +{start},{count} @@")
            out += ["+" + line for line in lines[start - 1 : end]]
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
