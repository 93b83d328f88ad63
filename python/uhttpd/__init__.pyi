"""Type stubs for uhttpd (the seed's API plus SPEC.md's host additions)."""

import os
from pathlib import Path
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Union

from typing_extensions import Buffer, Self, final

__all__ = [
    "ACL_RO",
    "ACL_RW",
    "ACL_WO",
    "AUTH_BASIC",
    "AUTH_CUSTOM",
    "AUTH_OPEN",
    "DELETE",
    "GET",
    "PATCH",
    "POST",
    "PUT",
    "Request",
    "Server",
    "self_signed_certificate",
]

_Data = Union[str, bytes, bytearray, memoryview]
_Callback = Callable[["Request"], object]

GET: int
POST: int
DELETE: int
PUT: int
PATCH: int
AUTH_OPEN: int
AUTH_BASIC: int
AUTH_CUSTOM: int
ACL_RO: int
ACL_WO: int
ACL_RW: int

@final
class Server:
    def __init__(
        self,
        port: int = 80,
        acl: int = 0,
        cors: bool = False,
        routes: Union[int, Iterable[tuple[str, int, _Callback]], None] = None,
        auth: Union[bytes, str, _Callback, None] = None,
        events: int = 0,
        *,
        host: str = "0.0.0.0",
        root: Union[str, os.PathLike[str], None] = None,
        ext: Union[str, None] = None,
        workers: Union[int, None] = None,
        tls: Union[tuple[Union[str, os.PathLike[str]], Union[str, os.PathLike[str]]], None] = None,
    ) -> None: ...
    @property
    def tls_fingerprint(self) -> Union[str, None]: ...
    def port(self) -> int: ...
    def route(self, url: str, methods: int, callback: _Callback) -> None: ...
    def serve(
        self,
        prefix: Union[str, None] = None,
        base: Union[str, None] = None,
        dirs: bool = True,
        ext: bool = False,
    ) -> None: ...
    def receive(
        self,
        dynamic: bool = True,
        prefix: Union[str, None] = None,
        extonly: bool = False,
        delete: bool = False,
    ) -> None: ...
    def file_acl(self, cb: Callable[[str], int]) -> None: ...
    def event(self, url: str) -> None: ...
    def dispatch(self, data: _Data, event: Union[str, None] = None) -> bool: ...
    def observations(self, timeout: float = 1.0) -> list[dict[str, Any]]: ...
    def stats(self) -> dict[str, Any]: ...
    def ws(self, url: str, pwd: Union[str, None] = None) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        *_exc: Union[type[BaseException], BaseException, TracebackType, None],
    ) -> bool: ...

@final
class Request:
    def server(self) -> Server: ...
    def method(self) -> int: ...
    def uri(self) -> str: ...
    def length(self) -> int: ...
    def path(self) -> str: ...
    def query(self, key: Union[str, bytes]) -> Union[bytes, bool, None]: ...
    def parse_qs(self) -> dict[bytes, Union[bytes, bool]]: ...
    def read(self, len: int = -1) -> bytes: ...
    def readinto(self, buffer: Buffer) -> int: ...
    def write(
        self,
        data: _Data,
        status: Union[int, str, bytes, None] = None,
        mime: Union[str, bytes, None] = None,
        headers: Union[dict[Union[str, bytes], Union[str, bytes]], None] = None,
        allow_cors: bool = False,
    ) -> None: ...
    def send_chunk(
        self,
        data: Union[_Data, None],
        status: Union[int, str, bytes, None] = None,
        mime: Union[str, bytes, None] = None,
        headers: Union[dict[Union[str, bytes], Union[str, bytes]], None] = None,
        allow_cors: bool = False,
    ) -> None: ...
    def send(self, data: _Data) -> None: ...
    def header(self, name: str) -> Union[bytes, None]: ...
    def headers(self) -> dict[str, bytes]: ...
    def remote(self) -> tuple[str, int]: ...

def _shutdown() -> None: ...

def self_signed_certificate(
    directory: Union[str, os.PathLike[str]], host: str = "0.0.0.0"
) -> tuple[Path, Path]: ...
