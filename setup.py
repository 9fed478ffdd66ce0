"""Package layout and build steps of the ``simpul`` wheel; the metadata lives in setup.cfg.

Written by hand because setup.cfg cannot say either thing:

* The repository keeps the design's top level (``engine/``, ``web/``, ``cli/``, ``plugins/``,
  ``processes/``, ``translations/``) while everything installs under the one import name
  ``simpul`` (``simpul.engine``, ``simpul.web``, ...).  Each folder is mapped with
  ``package_dir`` and every folder below it, data folders included, is listed as a package,
  so setuptools neither drops a template nor warns about one.
* The wheel carries what a node needs at run time and git does not hold: the compiled
  ``.mo`` catalogues and the modeler/viewer bundle that ``npm run build`` makes.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent

#: repository folder -> import name inside the ``simpul`` namespace
FOLDERS = {
    "engine": "simpul.engine",
    "web": "simpul.web",
    "cli": "simpul.cli",
    "plugins": "simpul.plugins",
    "processes": "simpul.processes",
    "translations": "simpul.translations",
}


def _packages() -> list[str]:
    names = []
    for folder, name in FOLDERS.items():
        names.append(name)
        subs = find_namespace_packages(where=str(HERE / folder), exclude=["*__pycache__*", "*.src", "*.src.*"])
        names += [f"{name}.{sub}" for sub in subs]
    return names


class BuildWithAssets(build_py):
    """Compile the catalogues and build the browser bundle before the files are copied."""

    def run(self):
        self._compile_catalogues()
        self._build_bundle()
        # setuptools copies into build/lib over what an earlier build left there, so a module
        # renamed or deleted since would reach the wheel; start from an empty folder instead
        if not self.editable_mode and Path(self.build_lib).is_dir():
            shutil.rmtree(self.build_lib)
        super().run()

    def _compile_catalogues(self):
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in sorted((HERE / "translations").glob("*/LC_MESSAGES/*.po")):
            with po.open("rb") as fh:
                catalog = read_po(fh, locale=po.parent.parent.name)
            with po.with_suffix(".mo").open("wb") as fh:
                write_mo(fh, catalog)

    def _build_bundle(self):
        vendor = HERE / "web" / "static" / "vendor"
        if (
            (vendor / "process-admin" / "modeler.js").is_file()
            and (vendor / "bpmn-js").is_dir()
            and (vendor / "echarts" / "echarts.min.js").is_file()
        ):
            return
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("building simpul needs npm (Node 20) for the modeler bundle")
        if not (HERE / "node_modules").is_dir():
            subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True)
        subprocess.run([npm, "run", "build"], cwd=HERE, check=True)


setup(
    package_dir=dict((name, folder) for folder, name in FOLDERS.items()),
    packages=_packages(),
    cmdclass={"build_py": BuildWithAssets},
)
