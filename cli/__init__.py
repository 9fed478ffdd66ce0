"""The ``simpul`` command line: set up a node, run it, and drive cases from scripts.

Nothing here prompts; every listing has ``--json``; errors print one line and exit non-zero.
"""

from __future__ import annotations

import logging
import sys

import click

from simpul.engine import Actor, Config, Conflict, DeployError, Runtime, SimpulError, refusal_line

from .output import fail


class State:
    """Built lazily so ``simpul --help`` needs no database."""

    def __init__(self):
        self._runtime = None
        self.config = Config.from_env()

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = Runtime(self.config)
        return self._runtime

    def actor(self, username: str | None) -> Actor:
        if not username:
            return Actor(username="cli", office_code=None, roles=Actor.system().roles, display_name="cli")
        from simpul.engine import actor_for

        return actor_for(self.runtime, username)

    def close(self) -> None:
        """Close the runtime, if one was opened: its connections and sandbox processes end with
        the command, whether the command runs as its own process or inside another (tests)."""
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None


pass_state = click.make_pass_decorator(State, ensure=True)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log what the engine does.")
@click.pass_context
def main(ctx, verbose):
    """Simpul: e-KTP case management for kecamatan, kelurahan and regency offices."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    ctx.call_on_close(ctx.ensure_object(State).close)


from . import commands, supervision, users  # noqa: E402,F401  (registers the subcommands)


def _register_plugin_commands():
    """Plugins add subcommands through the ``register_commands`` hook, and options to
    ``simpul tasks complete`` through ``task_inputs``; the runtime is ``ctx.obj.runtime``."""
    from simpul.engine import make_plugin_manager

    pm = make_plugin_manager(Config.from_env().plugins)
    commands.add_task_input_options(pm.hook)
    pm.hook.register_commands(cli=main)


def node_catalogue():
    """The node's catalogue (``SIMPUL_LOCALE``, the core's with the plugins' behind it): the CLI
    shows messages in the node's language, as the web app shows them in the request's."""
    from simpul.engine import make_plugin_manager
    from simpul.engine.i18n import translations_for

    config = Config.from_env()
    dirs = [d for result in make_plugin_manager(config.plugins).hook.translation_dirs() for d in result or []]
    return translations_for(config.locale, dirs)


def show_error(exc: SimpulError):
    """Print an engine error in the node's language and exit non-zero."""
    from simpul.engine.i18n import render

    catalogue = node_catalogue()
    errors = exc.errors
    if isinstance(errors, dict) and not isinstance(exc, Conflict):
        errors = {k: [render(m, catalogue) for m in (v if isinstance(v, list) else [v])] for k, v in errors.items()}
    elif isinstance(exc, DeployError) and isinstance(errors, list):
        # one line per refused element, its label first, in the node's language (the first is
        # already in the message itself)
        def translate(template, params):
            text = catalogue.gettext(template)
            return text.format(**params) if params else text

        lines = [refusal_line(p, translate) for p in errors if isinstance(p, dict)]
        errors = lines[1:]
    fail(exc.render(catalogue=catalogue), 1, errors)


def run():
    """Console entry point: engine errors become one clear line and a non-zero exit."""
    try:
        _register_plugin_commands()
        main.main(standalone_mode=False)
    except click.exceptions.Abort:
        fail("aborted", 1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SimpulError as exc:
        show_error(exc)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # no tracebacks for operators; -v logs them
        logging.getLogger("simpul.cli").debug("unexpected error", exc_info=True)
        fail(f"{type(exc).__name__}: {exc}", 2)
