"""Decompressors with bounded output, for zip members and compressed tar streams."""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Iterator
from typing import Any

from isal import igzip_lib, isal_zlib

from ..errors import ErrorCode, IngestError

# ISA-L inflates faster than zlib and checks CRCs several times faster. Its
# bz2-style decompressor is used: isal_zlib's zlib-style one copies the unconsumed
# input on every call that is cut short by max_length.
crc32 = isal_zlib.crc32

# Output is handed out in pieces of at most this size, so memory stays flat even
# when a small input expands a thousandfold.
OUT_CHUNK = 4 * 1024 * 1024

# isal's stubs declare IsalError as an instance; it is the exception class.
DECOMPRESSION_ERRORS: tuple[type[BaseException], ...] = (  # type: ignore[assignment]
    zlib.error,
    igzip_lib.IsalError,
    lzma.LZMAError,
    OSError,
    EOFError,
    ValueError,
)


class CorruptStream(Exception):
    """Compressed data the decoder rejects; ``checksum`` when only a check failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        lowered = reason.lower()
        self.checksum = "check" in lowered or "crc" in lowered


class Decompressor:
    """One compressed stream fed in pieces; ``feed`` yields bounded output."""

    def __init__(self, engine: Any, *, needs_end_marker: bool = True) -> None:
        self._engine = engine
        self._needs_end_marker = needs_end_marker
        self._zlib_style = hasattr(engine, "unconsumed_tail")

    @property
    def eof(self) -> bool:
        return bool(self._engine.eof)

    @property
    def unused_data(self) -> bytes:
        return bytes(self._engine.unused_data)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decompress ``data``, yielding output pieces of at most OUT_CHUNK bytes.

        Raises CorruptStream for data the decoder rejects.
        """
        try:
            yield from self._feed(data)
        except DECOMPRESSION_ERRORS as exc:
            raise CorruptStream(str(exc)) from exc

    def _feed(self, data: bytes) -> Iterator[bytes]:
        engine = self._engine
        if self._zlib_style:
            yield engine.decompress(data, OUT_CHUNK)
            while engine.unconsumed_tail and not engine.eof:
                yield engine.decompress(engine.unconsumed_tail, OUT_CHUNK)
            return
        yield engine.decompress(data, OUT_CHUNK)
        while not engine.eof and not engine.needs_input:
            yield engine.decompress(b"", OUT_CHUNK)

    def complete(self, size_ok: bool) -> bool:
        """True when the stream ended properly with no bytes left over."""
        if self.eof:
            return not self.unused_data
        # LZMA in zip may omit its end marker; then the declared size decides.
        return not self._needs_end_marker and size_ok


def gzip_decompressor() -> Decompressor:
    """One gzip member, its CRC and length checked at the end."""
    return Decompressor(igzip_lib.IgzipDecompressor(flag=igzip_lib.DECOMP_GZIP))


def member_decompressor(method: int, head: bytes) -> Decompressor:
    """A decompressor for a zip member's method; ``head`` is LZMA's property header."""
    if method == 8:
        return Decompressor(igzip_lib.IgzipDecompressor(flag=igzip_lib.DECOMP_DEFLATE))
    if method == 12:
        return Decompressor(bz2.BZ2Decompressor())
    if method == 14:
        return Decompressor(
            lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[_lzma_filter(head[4:])]),
            needs_end_marker=False,
        )
    raise ValueError(f"no decompressor for zip method {method}")


def _lzma_filter(props: bytes) -> dict[str, int]:
    """LZMA1 filter settings from zip's 5-byte properties (lc/lp/pb, dictionary)."""
    if len(props) != 5:
        raise IngestError(ErrorCode.CORRUPT, "An LZMA member has damaged properties.")
    packed = props[0]
    return {
        "id": lzma.FILTER_LZMA1,
        "lc": packed % 9,
        "lp": (packed // 9) % 5,
        "pb": packed // 45,
        "dict_size": int.from_bytes(props[1:5], "little"),
    }
