"""Run a patch right after moto imports one of its modules, so the emulator pays for no import it does not need.

moto loads a service's code on its first request; patching eagerly would import all of moto (seconds) before the
emulator could answer. A meta-path finder wraps the loader of the named modules and runs the patch after the module
body has executed, before anyone else sees the module.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Callable
from types import ModuleType

_patches: dict[str, list[Callable[[ModuleType], None]]] = {}
_lock = threading.RLock()


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, wrapped: importlib.abc.Loader):
        self._wrapped = wrapped

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._wrapped, name)  # get_source, get_resource_reader, is_package...

    def create_module(self, spec):  # type: ignore[no-untyped-def]
        return self._wrapped.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._wrapped.exec_module(module)  # type: ignore[attr-defined]
        for patch in _patches.get(module.__name__, ()):
            patch(module)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):  # type: ignore[no-untyped-def]
        if fullname not in _patches:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _PatchingLoader(spec.loader)
        return spec


_finder = _Finder()


def after_import(module_name: str, patch: Callable[[ModuleType], None]) -> None:
    """Call `patch(module)` once `module_name` is imported (now, if it already is)."""
    with _lock:
        _patches.setdefault(module_name, []).append(patch)
        if _finder not in sys.meta_path:
            sys.meta_path.insert(0, _finder)
        module = sys.modules.get(module_name)
    if module is not None:
        patch(module)
