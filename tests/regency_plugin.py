"""The suite runs with a regency's plugin installed: the Kutai Kartanegara example.

A regency installs Simpul and then its own plugin; installing one must not break the node.  So
every test runs with ``examples/simpul-kutai-kartanegara`` installed -- built by pip as a
regency's administrator would (``pip install --no-deps --target``: the same wheel and entry-point
metadata), into ``build/test-plugins/<digest of its files>/``, which is put first on ``sys.path``
and on ``PYTHONPATH`` (for the ``simpul`` processes the tests start).  The venv itself never
sees it, so ``make run`` serves the plain node, and a killed run leaves nothing installed.

Tests that assert the national baseline, which such a plugin changes on purpose, block it
(``national_checklist`` marker, ``INSTALLED_PLUGINS_BLOCKED``); the walks in
``tests/verification/test_regency_plugin.py`` install and uninstall it themselves and take it off
the path while they run (:func:`off_the_path`).

This used to be a second run of the whole suite (``scripts/test-with-kukar``), which doubled CI's
time.  ``SIMPUL_TEST_REGENCY_PLUGIN=0`` runs the suite without it.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "simpul-kutai-kartanegara"
CACHE = ROOT / "build" / "test-plugins"
WANTED = os.environ.get("SIMPUL_TEST_REGENCY_PLUGIN", "1") != "0"


def _digest() -> str:
    """Of the example's source files, so an edit to the plugin rebuilds it."""
    sha = hashlib.sha256()
    for path in sorted(EXAMPLE.rglob("*")):
        parts = set(path.relative_to(EXAMPLE).parts)
        if path.is_file() and not parts & {"build", "__pycache__", ".pytest_cache"} and ".egg-info" not in str(path):
            if path.suffix in (".pyc", ".mo"):
                continue
            sha.update(str(path.relative_to(EXAMPLE)).encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()[:16]


def _build(target: Path) -> None:
    """Install the example into ``target`` once; other test processes (pytest-xdist) wait on the lock."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_dir():
            return
        staging = CACHE / f".{target.name}.{os.getpid()}"
        source = staging / "source"
        shutil.rmtree(staging, ignore_errors=True)
        # from a copy, so the checkout gets no build/ or *.egg-info
        shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "--disable-pip-version-check", "install", "--quiet", "--no-deps"]
            + ["--target", str(staging / "site"), str(source)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"installing the Kutai Kartanegara plugin for the tests failed:\n{proc.stderr}")
        (staging / "site").rename(target)
        shutil.rmtree(staging, ignore_errors=True)
        for old in CACHE.iterdir():  # earlier versions of the plugin
            if old.is_dir() and old != target and not old.name.startswith("."):
                shutil.rmtree(old, ignore_errors=True)


def install() -> Path | None:
    """Put the plugin on the path of this process and of the processes it starts."""
    if not WANTED:
        return None
    target = CACHE / _digest()
    if not target.is_dir():
        _build(target)
    if str(target) not in sys.path:
        sys.path.insert(0, str(target))
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(target) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(target), *paths])
    importlib.invalidate_caches()
    return target


INSTALLED = install()


@contextmanager
def off_the_path():
    """The suite's copy of the plugin taken away (``sys.path``, ``PYTHONPATH``, loaded modules)
    while a test installs and uninstalls the plugin itself."""
    if INSTALLED is None:
        yield
        return
    saved_path, saved_env = list(sys.path), os.environ.get("PYTHONPATH")
    sys.path[:] = [p for p in sys.path if p != str(INSTALLED)]
    rest = [p for p in (saved_env or "").split(os.pathsep) if p and p != str(INSTALLED)]
    if rest:
        os.environ["PYTHONPATH"] = os.pathsep.join(rest)
    else:
        os.environ.pop("PYTHONPATH", None)
    _forget_modules()
    try:
        yield
    finally:
        sys.path[:] = saved_path
        if saved_env is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved_env
        _forget_modules()


def _forget_modules() -> None:
    for name in [m for m in sys.modules if m == "simpul_kukar" or m.startswith("simpul_kukar.")]:
        del sys.modules[name]
    importlib.invalidate_caches()
