"""Run the plugin's tests from a checkout without installing it: its package goes on the path.

The `simpul` application (``simpul.engine``) must be importable: run them with Simpul's venv."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
