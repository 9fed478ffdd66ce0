"""Where the bundled data lives once installed: BPMN processes, catalogues, migrations.

Everything is read as package resources of the ``simpul`` distribution, so a wheel installed
with no checkout beside it finds the same files as an editable install.  pip always installs
wheels unpacked, so each resource is a real directory that Alembic, Babel and Flask can read.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def package_dir(package: str, *parts: str) -> Path:
    """The directory of ``package`` (an importable ``simpul.*`` name), joined with ``parts``."""
    return Path(str(files(package))).joinpath(*parts)


PROCESSES_DIR = package_dir("simpul.processes")
TRANSLATIONS_DIR = package_dir("simpul.translations")
MIGRATIONS_DIR = package_dir("simpul.engine", "migrations")
