"""Plugin manager factory, entry-point discovery (group ``gateway.plugins``), listing."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from gateway import hookspecs
from gateway.dialect import Dialect, DialectClaim

log = logging.getLogger("gateway.plugins")
ENTRY_POINT_GROUP = "gateway.plugins"


class PluginError(RuntimeError):
    """A plugin the user named is missing or failed to load."""


@dataclass
class PluginInfo:
    name: str
    version: str
    module: str
    hooks: list[str] = field(default_factory=list)
    dialects: list[str] = field(default_factory=list)


class Plugins:
    """A plugin manager with the loaded plugins and their dialects."""

    def __init__(self, pm: pluggy.PluginManager, infos: dict[str, PluginInfo]):
        self.pm = pm
        self.hook = pm.hook
        self.infos = infos
        self.dialects: dict[str, Dialect] = {}
        owners: dict[str, str] = {}
        for name, plugin in pm.list_name_plugin():
            impl = getattr(plugin, "gateway_register_dialects", None)
            if impl is None:
                continue
            registered: list[Dialect] = []
            impl(registered.append)
            for d in registered:
                if d.name in self.dialects:
                    raise PluginError(f"dialect {d.name!r} registered by both plugin "
                                      f"{owners[d.name]!r} and {name!r}")
                self.dialects[d.name] = d
                owners[d.name] = name
                if name in infos:
                    infos[name].dialects.append(d.name)

    def claims(self, template: Any, meta: dict[str, Any]) -> list[DialectClaim]:
        found = [c for c in self.hook.gateway_detect_dialect(template=template, metadata=meta)
                 if c is not None and c.dialect in self.dialects]
        return sorted(found, key=lambda c: -c.score)

    def describe(self) -> list[dict[str, Any]]:
        return [vars(i) for i in self.infos.values()]


def _hooks_of(plugin: object) -> list[str]:
    return sorted(n for n in dir(plugin) if n.startswith("gateway_"))


def create_plugins(
    names: list[str] | None = None, *, extra: list[tuple[str, object]] | None = None
) -> Plugins:
    """Build a fresh plugin manager.

    names: load only these entry points (``--plugin``/``GATEWAY_LOAD_PLUGINS``); a missing or
    failing one raises PluginError listing what is available. None: load every installed
    plugin, logging and skipping those that fail. The built-in generic plugin and the core's
    default implementations are always there. ``extra``: (name, module) pairs registered
    directly (tests, embedding).
    """
    from gateway import default_hooks
    from gateway.dialects import generic

    pm = pluggy.PluginManager("gateway")
    pm.add_hookspecs(hookspecs)
    pm.register(default_hooks, name="gateway.default_hooks")
    infos: dict[str, PluginInfo] = {}
    eps = {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    if names is None and os.environ.get("GATEWAY_LOAD_PLUGINS"):
        names = [n.strip() for n in os.environ["GATEWAY_LOAD_PLUGINS"].split(",") if n.strip()]
    wanted = list(eps) if names is None else list(dict.fromkeys(["generic", *names]))
    for name in wanted:
        ep = eps.get(name)
        if ep is None:
            if name == "generic":  # running from a source tree without the entry point
                _register(pm, infos, "generic", generic, "gateway")
                continue
            raise PluginError(f"plugin {name!r} is not installed; available: "
                              f"{', '.join(sorted(eps)) or 'none'}")
        try:
            module = ep.load()
            _register(pm, infos, name, module, ep.dist.name if ep.dist else name)
        except Exception as exc:
            if names is not None:
                raise PluginError(f"plugin {name!r} failed to load: {exc}; available: "
                                  f"{', '.join(sorted(eps))}") from exc
            log.warning("skipping plugin %r: failed to load: %s", name, exc)
    for name, module in extra or []:
        _register(pm, infos, name, module, name)
    return Plugins(pm, infos)


def _register(pm: pluggy.PluginManager, infos: dict[str, PluginInfo], name: str,
              module: object, dist: str) -> None:
    if pm.get_plugin(name) is not None:
        return
    pm.register(module, name=name)
    try:
        version = metadata.version(dist)
    except metadata.PackageNotFoundError:
        version = "0"
    infos[name] = PluginInfo(name=name, version=version, module=getattr(module, "__name__", ""),
                             hooks=_hooks_of(module))
