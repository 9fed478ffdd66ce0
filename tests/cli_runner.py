"""``simpul`` commands run inside the test process, through the console entry point.

Starting a Python process per command costs more than a second here (imports, plugin
discovery); a test that drives a whole case through fifty commands spent most of its time
starting interpreters.  Where the process boundary is not what a test is about, it runs the
command with click's own test harness (``CliRunner.isolation``: the environment, stdin,
stdout and stderr swapped for the call) and calls :func:`simpul.cli.run`, the function the
``simpul`` script calls, so argument parsing, plugin commands, error lines and exit codes are
the script's.  Each command opens and closes its own runtime, as a process would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping

from click.testing import CliRunner


def run_in_process(args, env: Mapping[str, str | None]) -> subprocess.CompletedProcess:
    """``simpul ARGS`` with ``env`` as overrides of the environment (``None`` removes a key);
    returns what :func:`subprocess.run` would (return code, stdout and stderr as text)."""
    from simpul import cli

    argv = ["simpul", *map(str, args)]
    with CliRunner().isolation(env=dict(env)) as (out, err, _):
        saved, sys.argv = sys.argv, argv
        try:
            cli.run()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = saved
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    return subprocess.CompletedProcess(argv, code, stdout, stderr)


def node_env(**settings: str) -> dict[str, str | None]:
    """Overrides for :func:`run_in_process`: every ``SIMPUL_*`` variable of this environment
    removed, then ``settings`` set -- a command configured by these settings alone."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SIMPUL_")}
    env.update(settings)
    return env
