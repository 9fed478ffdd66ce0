"""Resident-facing status lines, in the resident's terms rather than the office's."""

from __future__ import annotations

from simpul.engine import N_

STATUS_LINES = {
    "case_started": N_("Your application was received."),
    "task_completed": N_("Step finished: {step}."),
    "message_received": N_("News from the regency office: {step}."),
    "case_cancelled": N_("Your application was closed: {detail}."),
}


def resident_status(event: dict, case) -> str | None:
    template = STATUS_LINES.get(event.get("kind"))
    if template is None:
        return None
    return template.format(step=event.get("step") or "", detail=event.get("detail") or "")
