"""The socialization plugin's settings (``SIMPUL_SETTINGS`` under ``"socialization"``).

* ``record_from_age`` (17): the age from which a never-married resident counts as eligible.
  Set it to 16 where the office records pupils before their 17th birthday (school visits);
  the card is still printed at 17.  Married or once-married residents are eligible at any age.
  Environment: ``SIMPUL_SOCIALIZATION_RECORD_FROM``.
* ``upload_limit_mb`` (50): the largest resident list the web page accepts.
* ``background_import_kb`` (256): a list larger than this (about 2,500 rows) is checked and
  stored by the worker in the background while the page shows its progress; a smaller one
  at once, in the request.  ``0`` sends every list to the background.
"""

from __future__ import annotations

NAMESPACE = "socialization"

DECLARATION = {
    "namespace": NAMESPACE,
    "defaults": {"record_from_age": 17, "upload_limit_mb": 50, "background_import_kb": 256},
    "environment": {"record_from_age": "SIMPUL_SOCIALIZATION_RECORD_FROM"},
}


def record_from_age(runtime) -> int:
    try:
        age = int(runtime.plugin_settings(NAMESPACE)["record_from_age"])
    except (TypeError, ValueError):
        return 17
    return age if 10 <= age <= 17 else 17
