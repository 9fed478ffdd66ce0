"""Building the plugin manager (in the app/CLI/worker factory, never at import time)."""

from __future__ import annotations

import importlib
import importlib.metadata

import pluggy

from . import hookspecs
from .errors import PluginError

ENTRY_POINT_GROUP = "simpul"

#: The built-in plugins, registered exactly as a third party's entry point is.
DEFAULT_PLUGINS = (
    "simpul.plugins.socialization",
    "simpul.plugins.verification",
    "simpul.plugins.coordination",
)


def _parse_plugin_setting(setting: str) -> tuple[list[str], set[str]]:
    extra, blocked = [], set()
    for item in (s.strip() for s in (setting or "").split(",")):
        if not item:
            continue
        if item.startswith("-"):
            blocked.add(item[1:])
        else:
            extra.append(item)
    return extra, blocked


def _short_name(module_name: str) -> str:
    return module_name.rsplit(".", 1)[-1]


def make_plugin_manager(plugin_setting: str = "", extra_plugins=()) -> pluggy.PluginManager:
    """Register default plugins, entry-point plugins and ``SIMPUL_PLUGINS`` modules.

    ``plugin_setting`` is ``SIMPUL_PLUGINS``: ``a.module`` adds a plugin by import path,
    ``-name`` blocks a plugin (built-in or installed) by name.  ``extra_plugins`` are objects
    registered as they are (tests use it).
    """
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    extra, blocked = _parse_plugin_setting(plugin_setting)
    for name in blocked:
        pm.set_blocked(name)
    for module_name in (*DEFAULT_PLUGINS, *extra):
        name = _short_name(module_name)
        if pm.is_blocked(name):
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise PluginError("Cannot import plugin {name}: {error}", name=module_name, error=str(exc)) from exc
        pm.register(module, name=name)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for obj in extra_plugins:
        pm.register(obj)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(
            "Plugin {plugin} implements an unknown hook: {error}",
            plugin=getattr(exc.plugin, "__name__", str(exc.plugin)),
            error=str(exc),
        ) from exc
    return pm


def plugin_info(pm: pluggy.PluginManager) -> list[dict]:
    """Name, version and hooks of every registered plugin (for ``simpul plugins``)."""
    dists: dict[str, importlib.metadata.Distribution] = {}
    for found, ep_name in (
        (d, ep.name)
        for d in importlib.metadata.distributions()
        for ep in d.entry_points
        if ep.group == ENTRY_POINT_GROUP
    ):
        dists[ep_name] = found
    rows = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        dist: importlib.metadata.Distribution | None = dists.get(name)
        module = getattr(plugin, "__name__", type(plugin).__name__)
        builtin = module in DEFAULT_PLUGINS
        if builtin:  # the built-in plugins ship in (and are versioned with) the simpul distribution
            dist = importlib.metadata.distribution("simpul")
        rows.append(
            {
                "name": name,
                "module": module,
                "version": dist.version if dist else getattr(plugin, "__version__", None),
                "distribution": dist.metadata["Name"] if dist else None,
                "builtin": builtin,
                "hooks": hooks,
            }
        )
    return rows
