"""How a failure while running a case becomes the incident text shown on it (engine-internal)."""

from __future__ import annotations

from . import _sandbox as sandbox


def describe_incident(exc: Exception) -> str:
    """One line: where the failure happened (the step's name or id) and what the error says."""
    inner = getattr(exc, "error", None) or getattr(exc, "exception", None) or exc
    if isinstance(inner, sandbox.ScriptError):
        message = inner.message
    elif isinstance(exc, sandbox.ScriptError):
        message = exc.message
    else:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    task = getattr(exc, "task", None)
    where = getattr(getattr(task, "task_spec", None), "bpmn_name", None) or getattr(
        getattr(task, "task_spec", None), "bpmn_id", None
    )
    return f"{where}: {message}" if where else message
