"""The emulator's state across restarts: moto's in-memory backends pickled to one file, stamped with moto's version.

moto keeps every resource in `BackendDict`s (`{account: {region: backend}}`); dumping them together with cloudpickle
keeps ids, timestamps and the references between services. Thread locks cannot be pickled (fresh ones are made on
load) and weak dictionaries are stored as plain ones. A file written by another moto version is set aside, not loaded.

Unpickling runs code, and `.workshop/` is the learner's folder (a cloned or shared workspace can carry any file), so
the file is signed: HMAC-SHA256 with a per-user key kept outside every workspace (`$WORKSHOP_HOME/keys`, 0600). Only a
file whose signature and length check out is unpickled; anything else is set aside unread, with a note saying why.
File layout: one JSON header line `{"format": 2, "moto": ..., "size": N, "sig": hex}`, then the N pickle bytes.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import importlib
import io
import json
import os
import re
import secrets
import sys
import threading
import weakref
from pathlib import Path
from typing import Any

FORMAT = 2  # 1: unsigned (set aside unread since signing came in)
KEY_BYTES = 32
_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))
MISMATCH_ADVICE = "run `workshop deploy all` to deploy the services again"


def key_file() -> Path:
    """The per-user signing key ($WORKSHOP_STATE_KEY_FILE, else under the per-user workshop home)."""
    if env := os.environ.get("WORKSHOP_STATE_KEY_FILE"):
        return Path(env)
    from workshop.errors import workshop_home

    return workshop_home() / "keys" / "emulator-state.key"


def signing_key() -> bytes:
    """The key, made on first use (32 random bytes, 0600 in a 0700 folder); never inside a workspace."""
    path = key_file()
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return path.read_bytes()
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(KEY_BYTES))
        key = path.read_bytes()
    if len(key) < KEY_BYTES:
        raise OSError(f"the emulator state key {path} is damaged (delete it; saved emulator states will be set aside)")
    return key


def _signature(key: bytes, moto: str, payload: bytes) -> str:
    signed = json.dumps({"format": FORMAT, "moto": moto, "size": len(payload)}, sort_keys=True).encode() + b"\n"
    return hmac.new(key, signed + payload, hashlib.sha256).hexdigest()


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
    """Whether a saved state is absent or will load without a note: this moto version, whole, signed with our key."""
    try:
        with path.open("rb") as handle:
            header, payload = _header(handle.readline()), handle.read()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return _problem(header, payload) is None


def _header(line: bytes) -> dict[str, Any]:
    try:
        header = json.loads(line)
    except ValueError:
        return {}
    return header if isinstance(header, dict) else {}


def _problem(header: dict[str, Any], payload: bytes) -> str | None:
    """Why the file must not be unpickled ("moto", "damaged", "truncated", "unsigned"), or None when it may."""
    if not header:
        return "damaged"
    if header.get("moto") != moto_version():
        return "moto"
    if header.get("format") != FORMAT or not isinstance(header.get("sig"), str) or not isinstance(header.get("size"), int):
        return "unsigned"
    if len(payload) < header["size"]:
        return "truncated"
    try:
        key = signing_key()
    except OSError:
        return "unsigned"
    expected = _signature(key, moto_version(), payload)
    return None if len(payload) == header["size"] and hmac.compare_digest(expected, header["sig"]) else "unsigned"


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
    _pickler(buffer).dump(snapshot)
    payload = buffer.getvalue()
    moto = moto_version()
    header = {"format": FORMAT, "moto": moto, "size": len(payload), "sig": _signature(signing_key(), moto, payload)}
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # the state holds queue messages, table items and function code: its owner's only
    with os.fdopen(fd, "wb") as handle:
        handle.write(json.dumps(header).encode() + b"\n")
        handle.write(payload)
    os.replace(tmp, path)
    return sum(len(regions) for accounts in snapshot.values() for regions in accounts.values())


def restore(path: Path) -> str | None:
    """Load the backends saved in `path`; returns a note for the learner when the file was set aside instead."""
    if not path.exists():
        return None
    with path.open("rb") as handle:
        header, payload = _header(handle.readline()), handle.read()
    problem = _problem(header, payload)
    if problem == "moto":
        saved = header.get("moto")
        saved = saved if isinstance(saved, str) and re.fullmatch(r"[0-9A-Za-z.+-]{1,40}", saved) else None
        aside = _set_aside(path, f"moto-{saved or 'unknown'}")
        return (
            f"The saved emulator state was written by moto {saved or 'of an unknown version'} and this is moto "
            f"{moto_version()}: it was set aside as {aside.name}; {MISMATCH_ADVICE}."
        )
    if problem == "truncated":
        aside = _set_aside(path, "damaged")
        return (f"The saved emulator state is cut short ({len(payload):,} of {header['size']:,} bytes: a save was interrupted, "
                f"or the disk filled up); it was set aside as {aside.name}; {MISMATCH_ADVICE}.")
    if problem == "unsigned":
        aside = _set_aside(path, "unsigned")
        return (f"The saved emulator state does not carry your signature (an older runner wrote it, or someone or "
                f"something else did), so it was not loaded: it was set aside unread as {aside.name}; {MISMATCH_ADVICE}.")
    if problem == "damaged":
        aside = _set_aside(path, "damaged")
        return f"The saved emulator state could not be read; it was set aside as {aside.name}; {MISMATCH_ADVICE}."
    import cloudpickle

    try:
        snapshot = cloudpickle.loads(payload)
    except Exception as exc:  # noqa: BLE001 - a damaged file must not stop the emulator
        aside = _set_aside(path, "damaged")
        return f"The saved emulator state could not be read ({exc}); it was set aside as {aside.name}; {MISMATCH_ADVICE}."
    for (module_name, attribute), accounts in snapshot.items():
        backend_dict = getattr(importlib.import_module(module_name), attribute)
        for account, regions in accounts.items():
            account_backends = backend_dict[account]
            for region, backend in regions.items():
                dict.__setitem__(account_backends, region, backend)
    return None


def _set_aside(path: Path, reason: str) -> Path:
    """Move the state out of the way under a name saying why (never over an earlier one)."""
    aside = path.with_name(f"{path.name}.{reason}")
    if aside.exists():
        aside = path.with_name(f"{path.name}.{reason}-{secrets.token_hex(3)}")
    os.replace(path, aside)
    return aside
