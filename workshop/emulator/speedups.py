"""Start-up shortcuts for the emulator process that change no behaviour.

moto builds a new boto3 Session for each region listing (three of them at import of its EC2 models, which
CloudFormation imports), and each new Session parses botocore's endpoint data again: about a second on a slow machine.
The answer depends only on the installed botocore, so it is computed once per question.
"""

from __future__ import annotations

import functools
from typing import Any


def install() -> None:
    import boto3.session

    session_cls = boto3.session.Session
    if getattr(session_cls.get_available_regions, "_workshop_cached", False):
        return
    original_regions = session_cls.get_available_regions
    original_partitions = session_cls.get_available_partitions

    @functools.lru_cache(maxsize=1)
    def shared() -> Any:
        return session_cls()  # one Session, so botocore's loader parses its data files once

    @functools.cache
    def regions(service_name: str, partition_name: str, allow_non_regional: bool) -> tuple[str, ...]:
        return tuple(original_regions(shared(), service_name, partition_name, allow_non_regional))

    @functools.lru_cache(maxsize=1)
    def partitions() -> tuple[str, ...]:
        return tuple(original_partitions(shared()))

    def get_available_regions(self: Any, service_name: str, partition_name: str = "aws",
                              allow_non_regional: bool = False) -> list[str]:
        return list(regions(service_name, partition_name, allow_non_regional))

    def get_available_partitions(self: Any) -> list[str]:
        return list(partitions())

    get_available_regions._workshop_cached = True  # type: ignore[attr-defined]
    session_cls.get_available_regions = get_available_regions  # type: ignore[method-assign]
    session_cls.get_available_partitions = get_available_partitions  # type: ignore[method-assign]
