"""What a function's process sees: its unzipped code, the runtime's SDK (boto3 and friends) and our runtime files.

Never the runner's virtualenv: the process runs with `-S` (no site-packages) and a PYTHONPATH holding only the
runtime folder, the function's code and a folder of links to the packages the AWS Python runtime provides.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import threading
import zipfile
from pathlib import Path

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
# What the AWS Lambda Python runtime ships besides the standard library.
SDK_PACKAGES = ("boto3", "botocore", "jmespath", "dateutil", "s3transfer", "urllib3", "six")
_lock = threading.Lock()


def sdk_dir(state_dir: Path) -> Path:
    """A folder of symlinks to the runtime-provided packages, made once."""
    folder = Path(state_dir) / "sdk"
    marker = folder / ".complete"
    if marker.exists():
        return folder
    with _lock:
        if marker.exists():
            return folder
        import importlib.util

        folder.mkdir(parents=True, exist_ok=True)
        for name in SDK_PACKAGES:
            spec = importlib.util.find_spec(name)
            if spec is None or spec.origin is None:
                continue
            source = Path(spec.origin)
            source = source.parent if source.name == "__init__.py" else source
            link = folder / source.name
            if not link.exists() and not link.is_symlink():
                os.symlink(source, link)
        marker.touch()
    return folder


def code_dir(state_dir: Path, code_bytes: bytes, digest: str | None) -> Path:
    """The function's zip unpacked once per content digest."""
    digest = digest or hashlib.sha256(code_bytes).hexdigest()
    folder = Path(state_dir) / "code" / digest.replace("/", "_").replace("+", "-")[:64]
    if folder.exists():
        return folder
    with _lock:
        if folder.exists():
            return folder
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if code_bytes:
            with zipfile.ZipFile(io.BytesIO(code_bytes)) as archive:
                archive.extractall(tmp)
        os.replace(tmp, folder)
    return folder
