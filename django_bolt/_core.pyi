"""Type stubs for the compiled module django_bolt._core (checked with mypy.stubtest)."""

from collections.abc import Iterable, Sequence
from typing import Any, final

__all__ = [
    "Bridge",
    "DJANGO_FALLBACK",
    "FastPlan",
    "Job",
    "Server",
    "StreamWriter",
    "TestApp",
    "use_batch_scheduling",
]

DJANGO_FALLBACK: int

@final
class Bridge:
    def __new__(cls) -> Bridge: ...
    def fileno(self) -> int: ...
    def run_ready(self, plans: list[FastPlan | None], host: Any) -> int: ...
    def take_ready_streams(self) -> list[int]: ...
    def next_blocking(self, timeout: float = 0.5) -> Job | None: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...

@final
class Job:
    @property
    def route_id(self) -> int: ...
    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def query_string(self) -> str: ...
    @property
    def server(self) -> tuple[str, int]: ...
    @property
    def client(self) -> tuple[str, int] | None: ...
    @property
    def body(self) -> bytes: ...
    @property
    def answered(self) -> bool: ...
    def params(self) -> dict[str, str]: ...
    def query(self) -> dict[str, str]: ...
    def query_pairs(self) -> list[tuple[str, str]]: ...
    def headers(self) -> list[tuple[str, str]]: ...
    def form_fields(self) -> list[tuple[str, str]]: ...
    def form_files(
        self,
    ) -> list[
        tuple[str, str, str | None, int, list[tuple[str, str]], bytes | None, str | None]
    ]: ...
    def respond_file(
        self,
        path: str,
        status: int = 200,
        content_type: str | None = None,
        filename: str | None = None,
        disposition: str = "attachment",
        headers: Iterable[tuple[str, str]] | None = None,
    ) -> bool: ...
    def respond(
        self,
        status: int,
        body: bytes | str | None,
        content_type: str | None = None,
        headers: Iterable[tuple[str, str]] | None = None,
    ) -> bool: ...
    def start_stream(
        self, status: int, headers: Iterable[tuple[str, str]] | None = None, buffer: int = 16
    ) -> StreamWriter: ...

@final
class StreamWriter:
    @property
    def id(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    def write(self, chunk: bytes | str) -> bool: ...
    def send(self, chunk: bytes | str) -> int: ...
    def close(self) -> None: ...

@final
class FastPlan:
    def __new__(
        cls, handler: Any, args: list[tuple[Any, ...]], status: int, plain_json: bool, encode: Any
    ) -> FastPlan: ...

@final
class Server:
    def __new__(
        cls,
        routes: Iterable[tuple[str, str, int, bool]],
        bridge: Bridge,
        host: str = "127.0.0.1",
        port: int = 8000,
        workers: int = 1,
        backlog: int = 1024,
        keep_alive: float = 5.0,
        max_body_size: int = ...,
        body_timeout: float = 30.0,
        spool_threshold: int = ...,
        shutdown_timeout: int = 30,
        reuse_port: bool = True,
        batch_scheduling: bool = True,
    ) -> Server: ...
    @property
    def port(self) -> int: ...
    @property
    def host(self) -> str: ...
    def stop(self, graceful: bool = True) -> None: ...
    def wait(self) -> None: ...

@final
class TestApp:
    def __new__(
        cls,
        routes: Iterable[tuple[str, str, int, bool]],
        bridge: Bridge,
        max_body_size: int = ...,
        body_timeout: float = 30.0,
        spool_threshold: int = ...,
    ) -> TestApp: ...
    def request(
        self,
        method: str,
        uri: str,
        headers: Sequence[tuple[str, bytes]],
        body: bytes,
        client: str = "127.0.0.1:50000",
    ) -> tuple[int, list[tuple[str, bytes]], bytes]: ...

def use_batch_scheduling() -> None: ...
