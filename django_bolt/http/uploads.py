"""Uploaded files: what a ``File()`` parameter or ``request.file(name)`` gives you."""

from __future__ import annotations

import enum
import io
from collections.abc import Iterator
from typing import Any


class FileSize(enum.IntEnum):
    """Byte sizes for ``File(max_size=...)`` and ``BOLT_MAX_UPLOAD_SIZE``."""

    KB_1 = 1024
    KB_10 = 10 * 1024
    KB_100 = 100 * 1024
    KB_500 = 500 * 1024
    MB_1 = 1024**2
    MB_2 = 2 * 1024**2
    MB_5 = 5 * 1024**2
    MB_10 = 10 * 1024**2
    MB_20 = 20 * 1024**2
    MB_50 = 50 * 1024**2
    MB_100 = 100 * 1024**2
    MB_500 = 500 * 1024**2
    GB_1 = 1024**3


class _ReadResult(bytes):
    """The bytes ``read()`` returns, also awaitable: ``await upload.read()`` (the
    documented form) and plain ``upload.read()`` (what Django's storage calls) both work."""

    def __await__(self) -> Iterator[Any]:
        return self
        yield  # pragma: no cover - makes this a generator


class UploadFile:
    """One uploaded file. Small files are held in memory; files over
    ``BOLT_MEMORY_SPOOL_THRESHOLD`` were written to a temporary file while the request
    streamed in, which is deleted once the request is done.

    ``filename``, ``content_type``, ``size`` and ``headers`` describe it; ``read()``
    returns its content (awaitable too); ``file`` is a Django ``UploadedFile``, ready
    to assign to a ``FileField`` / ``ImageField`` or to pass to a storage's ``save``.
    """

    def __init__(
        self,
        field_name: str,
        filename: str,
        content_type: str | None,
        size: int,
        headers: list[tuple[str, str]],
        data: bytes | None,
        path: str | None,
    ) -> None:
        self.field_name = field_name
        self.filename = filename
        self.content_type = content_type or "application/octet-stream"
        self.size = size
        self.headers = dict(headers)
        self._data = data
        self.path = path
        self._handle: Any = None
        self._django_file: Any = None

    @property
    def name(self) -> str:
        return self.filename

    @property
    def in_memory(self) -> bool:
        return self._data is not None

    def _stream(self) -> Any:
        if self._handle is None:
            self._handle = (
                io.BytesIO(self._data) if self._data is not None else open(self.path, "rb")
            )  # noqa: SIM115
        return self._handle

    def read(self, size: int = -1) -> _ReadResult:
        return _ReadResult(self._stream().read(size))

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._stream().seek(offset, whence)

    def tell(self) -> int:
        return self._stream().tell()

    def chunks(self, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
        """Django's File protocol, so ``default_storage.save(name, upload)`` works."""
        stream = self._stream()
        stream.seek(0)
        while True:
            data = stream.read(chunk_size)
            if not data:
                return
            yield data

    def multiple_chunks(self, chunk_size: int = 64 * 1024) -> bool:
        return self.size > chunk_size

    @property
    def file(self) -> Any:
        """A Django ``UploadedFile`` over the same content."""
        if self._django_file is None:
            from django.core.files.uploadedfile import InMemoryUploadedFile, UploadedFile

            if self._data is not None:
                self._django_file = InMemoryUploadedFile(
                    io.BytesIO(self._data),
                    self.field_name,
                    self.filename,
                    self.content_type,
                    self.size,
                    None,
                )
            else:
                self._django_file = UploadedFile(
                    open(self.path, "rb"),
                    self.filename,
                    self.content_type,
                    self.size,  # noqa: SIM115
                )
        return self._django_file

    def close(self) -> None:
        for handle in (self._handle, getattr(self._django_file, "file", None)):
            if handle is not None:
                handle.close()
        self._handle = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing left to do
            pass

    def __repr__(self) -> str:
        return f"<UploadFile {self.filename!r} {self.content_type} {self.size} bytes>"


__all__ = ["FileSize", "UploadFile"]
