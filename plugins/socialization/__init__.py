"""Socialization: telling residents where their case stands.

The study found residents uncertain about when their card would arrive.  This plugin turns
each case event into a plain-language status line for the resident (logged on the
``simpul.socialization`` channel now; the public status page and outreach campaigns build on it).

Built-in plugin; registered exactly as a regency's own plugin would be.
"""

import logging

from simpul.engine import hookimpl

from .status import resident_status

log = logging.getLogger("simpul.socialization")


@hookimpl
def case_event(event, case):
    line = resident_status(event, case)
    if line:
        log.info("%s: %s", case.receipt, line)
