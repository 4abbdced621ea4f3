"""Uploaded files: ``UploadFile`` and ``FileSize``."""

from .http.uploads import FileSize, UploadFile

__all__ = ["UploadFile", "FileSize"]
