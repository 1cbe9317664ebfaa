"""The emulator's state across restarts: moto's in-memory backends pickled to one file, stamped with moto's version.

moto keeps every resource in `BackendDict`s (`{account: {region: backend}}`); dumping them together with cloudpickle
keeps ids, timestamps and the references between services. Thread locks cannot be pickled (fresh ones are made on
load) and weak dictionaries are stored as plain ones. A file written by another moto version is set aside, not loaded.
"""

from __future__ import annotations

import collections
import importlib
import io
import json
import os
import sys
import threading
import weakref
from pathlib import Path
from typing import Any

FORMAT = 1
_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))
MISMATCH_ADVICE = "run `workshop deploy all` to deploy the services again"


def moto_version() -> str:
    from importlib.metadata import version

    return version("moto")


def _weak_values(items: dict[Any, Any]) -> weakref.WeakValueDictionary[Any, Any]:
    return weakref.WeakValueDictionary(items)


def _new_defaultdict(cls: type, factory: Any) -> Any:
    obj = cls.__new__(cls)
    collections.defaultdict.__init__(obj, factory)
    return obj


def _pickler(buffer: io.BytesIO) -> Any:
    import cloudpickle

    class Pickler(cloudpickle.CloudPickler):
        def reducer_override(self, obj: Any) -> Any:
            if isinstance(obj, _LOCK_TYPES):
                return (threading.RLock if "RLock" in type(obj).__name__ else threading.Lock), ()
            if isinstance(obj, weakref.WeakValueDictionary):
                return _weak_values, (dict(obj.items()),)
            if isinstance(obj, collections.defaultdict) and type(obj) is not collections.defaultdict:
                # subclasses with their own __init__ arguments (moto's ParameterDict) cannot use defaultdict's reduce
                return _new_defaultdict, (type(obj), obj.default_factory), vars(obj) or None, None, iter(list(obj.items()))
            return super().reducer_override(obj)

    return Pickler(buffer, protocol=5)


def _backend_dicts() -> dict[tuple[str, str], Any]:
    """Every moto BackendDict in use, keyed by the module global that holds it."""
    from moto.core.base_backend import BackendDict

    found: dict[tuple[str, str], Any] = {}
    for backend_dict in list(BackendDict._instances):
        module = sys.modules.get(backend_dict.backend.__module__)
        for name, value in vars(module or object()).items():
            if value is backend_dict:
                found[(module.__name__, name)] = backend_dict  # type: ignore[union-attr]
    return found


def loads_cleanly(path: Path) -> bool:
    """Whether a saved state is absent or stamped with this moto version (read without importing moto)."""
    try:
        with path.open("rb") as handle:
            header = json.loads(handle.readline())
    except FileNotFoundError:
        return True
    except (OSError, ValueError):
        return False
    return isinstance(header, dict) and header.get("format") == FORMAT and header.get("moto") == moto_version()


def save(path: Path) -> int:
    """Write every backend to `path` atomically (remove it when there is none); returns how many were saved."""
    snapshot = {
        key: {account: dict(regions.items()) for account, regions in backend_dict.items()}
        for key, backend_dict in _backend_dicts().items()
    }
    snapshot = {key: accounts for key, accounts in snapshot.items() if any(accounts.values())}
    if not snapshot:
        path.unlink(missing_ok=True)
        return 0
    buffer = io.BytesIO()
    buffer.write(json.dumps({"format": FORMAT, "moto": moto_version()}).encode() + b"\n")
    _pickler(buffer).dump(snapshot)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)
    return sum(len(regions) for accounts in snapshot.values() for regions in accounts.values())


def restore(path: Path) -> str | None:
    """Load the backends saved in `path`; returns a note for the learner when the file was set aside instead."""
    if not path.exists():
        return None
    with path.open("rb") as handle:
        try:
            header = json.loads(handle.readline())
        except ValueError:
            header = {}
        saved = header.get("moto")
        if header.get("format") != FORMAT or saved != moto_version():
            aside = path.with_name(f"{path.name}.moto-{saved or 'unknown'}")
            os.replace(path, aside)
            return (
                f"The saved emulator state was written by moto {saved or 'of an unknown version'} and this is moto "
                f"{moto_version()}: it was set aside as {aside.name}; {MISMATCH_ADVICE}."
            )
        import cloudpickle

        try:
            snapshot = cloudpickle.load(handle)
        except Exception as exc:  # noqa: BLE001 - a damaged file must not stop the emulator
            aside = path.with_name(f"{path.name}.damaged")
            os.replace(path, aside)
            return f"The saved emulator state could not be read ({exc}); it was set aside; {MISMATCH_ADVICE}."
    for (module_name, attribute), accounts in snapshot.items():
        backend_dict = getattr(importlib.import_module(module_name), attribute)
        for account, regions in accounts.items():
            account_backends = backend_dict[account]
            for region, backend in regions.items():
                dict.__setitem__(account_backends, region, backend)
    return None
