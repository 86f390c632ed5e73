"""A multipart upload streamed to a file as it arrives: never whole in memory, its size capped
while it streams (413 at the first byte too many), its SHA-256 computed on the way."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from fastapi import Request
from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header

from servicekit.errors import DomainError

MULTIPART_OVERHEAD = 64 * 1024
"""Room for the boundaries and part headers around an upload's bytes."""


class UploadTooLarge(DomainError):
    status, slug, title = 413, "upload-too-large", "Content too large"
    detail = "The file is larger than uploads may be."


class UploadMalformed(DomainError):
    status, slug, title = 400, "upload-malformed", "Bad request"
    detail = "Send the file as multipart/form-data, in a part named `file`."


MAX_FIELD_BYTES = 1024


@dataclass
class Received:
    path: Path
    size: int = 0
    sha256: str = ""
    fields: dict[str, str] = field(default_factory=dict)


class _Parts:
    """The parser's callbacks: the `file` part to disk, small fields to memory."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.received = Received(path)
        self._max = max_bytes
        self._file: IO[bytes] | None = None
        self._hash = hashlib.sha256()
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._field: str | None = None
        self._value = bytearray()
        self.saw_file = False

    def on_part_begin(self) -> None:
        self._headers, self._field, self._value = {}, None, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name == "file":
            if self.saw_file:
                raise UploadMalformed("Send one file per upload.")
            self.saw_file = True
            self._file = self.received.path.open("wb")
        else:
            self._field = name

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._file is not None:
            self.received.size += len(chunk)
            if self.received.size > self._max:
                raise UploadTooLarge(f"Uploads are at most {self._max} bytes.")
            self._hash.update(chunk)
            self._file.write(chunk)
        else:
            self._value += chunk
            if len(self._value) > MAX_FIELD_BYTES:
                raise UploadMalformed(f"Form fields are at most {MAX_FIELD_BYTES} bytes.")

    def on_part_end(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        elif self._field:
            self.received.fields[self._field] = self._value.decode("utf-8", "replace")

    def finish(self) -> Received:
        if self._file is not None:
            self._file.close()
        self.received.sha256 = self._hash.hexdigest()
        return self.received


async def receive(request: Request, path: Path, max_bytes: int) -> Received:
    """Stream the request's multipart body; the file lands at `path`."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UploadMalformed()
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + MULTIPART_OVERHEAD:
        raise UploadTooLarge(f"Uploads are at most {max_bytes} bytes.")  # refused before reading
    parts = _Parts(path, max_bytes)
    callbacks = {name: getattr(parts, name) for name in dir(parts) if name.startswith("on_")}
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    finally:
        received = parts.finish()
    if not parts.saw_file or received.size == 0:
        raise UploadMalformed("The upload has no file, or the file is empty.")
    return received
