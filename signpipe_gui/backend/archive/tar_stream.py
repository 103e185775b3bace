"""Byte sources for tar headers and data: the file itself, or a decompressed stream."""

from __future__ import annotations

import bz2
import lzma
import os
import queue
import threading
from collections.abc import Callable, Generator, Iterator

import zstandard

from ..errors import ErrorCode, IngestError
from .codecs import CorruptStream, Decompressor, gzip_decompressor
from .formats import ArchiveFormat
from .zstd_frames import check_zstd_frames

READ_CHUNK = 4 * 1024 * 1024
AHEAD_CHUNKS = 4

Damaged = Callable[[ErrorCode, str], IngestError]
# Called with (bytes decompressed, compressed bytes read) after every chunk.
Guard = Callable[[int, int], None]


class FileSource:
    """A plain tar: reads at an offset, skips by seeking."""

    def __init__(self, fd: int, size: int) -> None:
        self._fd = fd
        self.size = size
        self.offset = 0

    @property
    def consumed(self) -> int:
        return self.offset

    def read(self, count: int) -> bytes:
        """Up to ``count`` bytes (fewer only at the end of the file)."""
        data = os.pread(self._fd, count, self.offset)
        self.offset += len(data)
        return data

    def skip(self, count: int) -> bool:
        """Move ahead; False when that passes the end of the file."""
        self.offset += count
        return self.offset <= self.size


class StreamSource:
    """A compressed tar: decompressed chunk by chunk, never held whole in memory."""

    def __init__(
        self, chunks: Iterator[bytes], counter: list[int], guard: Guard | None
    ) -> None:
        self._chunks = chunks
        self._buffer = memoryview(b"")
        self._counter = counter
        self._guard = guard
        self._produced = 0
        self.offset = 0

    def _next_chunk(self) -> bytes | None:
        chunk = next(self._chunks, None)
        if chunk is not None:
            self._produced += len(chunk)
            if self._guard is not None:
                self._guard(self._produced, self._counter[0])
        return chunk

    @property
    def consumed(self) -> int:
        """Compressed bytes read so far."""
        return self._counter[0]

    def read(self, count: int) -> bytes | memoryview:
        """Up to ``count`` bytes (fewer only at the end of the stream)."""
        if len(self._buffer) >= count:
            piece = self._buffer[:count]
            self._buffer = self._buffer[count:]
            self.offset += count
            return piece
        pieces = [bytes(self._buffer)]
        have = len(self._buffer)
        self._buffer = memoryview(b"")
        while have < count:
            chunk = self._next_chunk()
            if chunk is None:
                break
            if have + len(chunk) > count:
                self._buffer = memoryview(chunk)[count - have :]
                chunk = chunk[: count - have]
            pieces.append(chunk)
            have += len(chunk)
        self.offset += have
        return b"".join(pieces)

    def read_some(self, limit: int) -> bytes | memoryview:
        """At least one byte and at most ``limit``, without joining chunks."""
        if not self._buffer:
            chunk = self._next_chunk()
            if chunk is None:
                return b""
            self._buffer = memoryview(chunk)
        piece = self._buffer[:limit]
        self._buffer = self._buffer[len(piece) :]
        self.offset += len(piece)
        return piece

    def skip(self, count: int) -> bool:
        """Move ahead by reading; False when the stream ends first."""
        while count:
            piece = self.read_some(count)
            if not piece:
                return False
            count -= len(piece)
        return True

    def close(self) -> None:
        """Stop decompressing (and the thread that does it)."""
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()

    def drain(self) -> int:
        """Read the stream to its end (so its checksums are checked); bytes read."""
        total = len(self._buffer)
        self._buffer = memoryview(b"")
        while (chunk := self._next_chunk()) is not None:
            total += len(chunk)
        return total


def open_source(
    fd: int, size: int, fmt: ArchiveFormat, damaged: Damaged, guard: Guard | None = None
) -> FileSource | StreamSource:
    """A byte source over the tar inside the archive file; ``guard`` sees progress."""
    if fmt is ArchiveFormat.TAR:
        return FileSource(fd, size)
    counter = [0]
    compressed = _read_compressed(fd, counter)
    if fmt is ArchiveFormat.TAR_ZST:
        check_zstd_frames(fd, size, damaged)
        chunks = _zstd_chunks(compressed, damaged)
    else:
        factories = {
            ArchiveFormat.TAR_GZ: gzip_decompressor,
            ArchiveFormat.TAR_BZ2: lambda: Decompressor(bz2.BZ2Decompressor()),
            ArchiveFormat.TAR_XZ: lambda: Decompressor(
                lzma.LZMADecompressor(lzma.FORMAT_XZ)
            ),
        }
        chunks = _chunks(compressed, factories[fmt], damaged)
    return StreamSource(_ahead(chunks), counter, guard)


_END = object()


def _ahead(chunks: Iterator[bytes]) -> Generator[bytes, None, None]:
    """Decompress on a second thread, a few chunks ahead of the reader.

    Decompressors release the GIL, so inflating the next chunk overlaps with
    parsing and writing this one. Errors travel to the reader in order.
    """
    pending: queue.Queue[object] = queue.Queue(AHEAD_CHUNKS)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                pending.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    return
            put(_END)
        except BaseException as exc:  # handed to the reader, raised there
            put(exc)

    thread = threading.Thread(target=produce, name="decompress", daemon=True)
    thread.start()
    try:
        while (item := pending.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


def _read_compressed(fd: int, counter: list[int]) -> Iterator[bytes]:
    offset = 0
    while True:
        data = os.pread(fd, READ_CHUNK, offset)
        if not data:
            return
        offset += len(data)
        counter[0] = offset
        yield data


def _chunks(
    compressed: Iterator[bytes], factory: Callable[[], Decompressor], damaged: Damaged
) -> Iterator[bytes]:
    """Decompressed output of one or more concatenated streams (pigz, pbzip2)."""
    stream = factory()
    try:
        for data in compressed:
            while data:
                if stream.eof:
                    if not data.strip(b"\x00"):
                        break  # zero padding after the last stream
                    stream = factory()
                for out in stream.feed(data):
                    if out:
                        yield out
                data = stream.unused_data if stream.eof else b""
    except CorruptStream as exc:
        if exc.checksum:
            raise damaged(ErrorCode.CRC_MISMATCH, "fails its checksum") from exc
        raise damaged(ErrorCode.CORRUPT, "holds damaged compressed data") from exc
    if not stream.eof:
        raise damaged(
            ErrorCode.TRUNCATED, "is truncated: its compressed data ends early"
        )


def _zstd_chunks(compressed: Iterator[bytes], damaged: Damaged) -> Iterator[bytes]:
    reader = zstandard.ZstdDecompressor()
    try:
        yield from reader.read_to_iter(
            _IterReader(compressed),  # type: ignore[arg-type]  # only read() is used
            read_size=READ_CHUNK,
            write_size=READ_CHUNK,
        )
    except zstandard.ZstdError as exc:
        if "checksum" in str(exc).lower():
            raise damaged(ErrorCode.CRC_MISMATCH, "fails its checksum") from exc
        raise damaged(ErrorCode.CORRUPT, "holds damaged compressed data") from exc


class _IterReader:
    """A file-like ``read`` over an iterator of chunks, for zstandard."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._rest = b""

    def read(self, size: int = -1) -> bytes:
        if not self._rest:
            self._rest = next(self._chunks, b"")
        if size < 0:
            size = len(self._rest)
        piece, self._rest = self._rest[:size], self._rest[size:]
        return piece
