"""Telling what a file is from its bytes, while they stream past, and refusing what is unsafe.

The client's ``Content-Type`` and the file's name are never trusted: the type comes from the
leading bytes (magic numbers), an image must declare sane dimensions in its header, and a
file of any type that carries HTML or SVG markup anywhere is refused, since a browser that
sniffs it could run it (a polyglot).
"""

import codecs
import hashlib
import re
from dataclasses import dataclass
from typing import Final

from domain.files.errors import ImageTooLargeError, UnsupportedFileTypeError
from domain.files.policy import GIF, JPEG, PDF, PLAIN_TEXT, PNG, WEBP, ZIP, UploadPolicy
from domain.files.values import FilePurpose, Sha256Digest
from domain.users.values import has_control_characters

HEAD_LIMIT: Final = 256 * 1024
"""How far into a file its image header is looked for; a JPEG's comes after its metadata."""
_MAGIC_NEEDED: Final = 12
_MAGIC_READ: Final = 16
_DIMENSIONS_RETRY_BYTES: Final = 16 * 1024
"""How much more of a JPEG's head must arrive before its size is looked for again: its
segments walked from the start for every small chunk would cost time quadratic in its
header. The other formats keep their size at a fixed offset, looked up at once."""
_ACTIVE_MARKERS: Final = (
    "script",
    "html",
    "svg",
    "iframe",
    "!doctype",
    "body",
    "object",
    "embed",
)
"""Markup that makes a browser that sniffs the bytes run or render them as a page."""
_ACTIVE_MARKUP: Final = re.compile(
    ("<(?:" + "|".join(re.escape(marker) for marker in _ACTIVE_MARKERS) + ")").encode(),
    re.IGNORECASE,
)
_MARKER_OVERLAP: Final = max(len(marker) for marker in _ACTIVE_MARKERS)
_SNIFFED_AS_HTML: Final = re.compile(
    r"<(?:!doctype html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p"
    r"|svg|\?xml)[ >]|<!--",
    re.IGNORECASE,
)
_SNIFF_WINDOW: Final = 16
"""Characters after the leading whitespace that decide whether text looks like a page."""
_SNIFF_WHITESPACE: Final = "\t\n\x0c\r "
"""What a browser sniffing the leading bytes of text takes for a page (WHATWG MIME
Sniffing, section 7.1), and SVG or XML. Only text is held to it: a binary type's leading
bytes are its magic number."""
_UTF8_BOM: Final = b"\xef\xbb\xbf"
_ASCII_CONTROLS: Final = frozenset({*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F})
_ASCII_CONTROL_TO_NUL: Final = bytes(0 if code in _ASCII_CONTROLS else 1 for code in range(256))
"""The ASCII part of CONTROL_CHARACTER_RANGES: for ASCII bytes with no partial character
before them, marking these bytes says what decoding and the full check would, far faster."""
_NEED_MORE: Final = "need more"
_JPEG_SOF_MARKERS: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE: Final = frozenset({0x01, *range(0xD0, 0xD9)})
_JPEG_START_OF_SCAN: Final = 0xDA

Dimensions = tuple[int, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class InspectedContent:
    """What a whole file turned out to be."""

    content_type: str
    size: int
    sha256: Sha256Digest


_SIGNATURES: Final = (
    (0, b"\x89PNG\r\n\x1a\n", PNG),
    (0, b"\xff\xd8\xff", JPEG),
    (0, b"GIF87a", GIF),
    (0, b"GIF89a", GIF),
    (8, b"WEBP", WEBP),
    (0, b"%PDF-", PDF),
    (0, b"PK\x03\x04", ZIP),
    (0, b"PK\x05\x06", ZIP),
)
"""Magic numbers: at which offset which bytes announce which type (WebP's also start RIFF)."""


def magic_type(head: bytes) -> str | None:
    """The type the leading bytes announce, or None when they announce none we know."""
    for offset, signature, content_type in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature and (
            content_type != WEBP or head.startswith(b"RIFF")
        ):
            return content_type
    return None


def _png_dimensions(head: bytes) -> Dimensions | str | None:
    if len(head) < 24:
        return _NEED_MORE
    if head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20]), int.from_bytes(head[20:24])


def _gif_dimensions(head: bytes) -> Dimensions | str | None:
    if len(head) < 10:
        return _NEED_MORE
    return int.from_bytes(head[6:8], "little"), int.from_bytes(head[8:10], "little")


def _webp_dimensions(head: bytes) -> Dimensions | str | None:
    if len(head) < 30:
        return _NEED_MORE
    chunk = head[12:16]
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        return (
            int.from_bytes(head[26:28], "little") & 0x3FFF,
            int.from_bytes(head[28:30], "little") & 0x3FFF,
        )
    if chunk == b"VP8L" and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    return None


def _jpeg_dimensions(head: bytes) -> Dimensions | str | None:
    """Walk the JPEG segments to the first start-of-frame, which holds the size."""
    offset = 2
    while True:
        if offset + 4 > len(head):
            return _NEED_MORE
        if head[offset] != 0xFF:
            return None
        marker = head[offset + 1]
        if marker == 0xFF:
            offset += 1
            continue
        if marker in _JPEG_STANDALONE:
            offset += 2
            continue
        if marker == _JPEG_START_OF_SCAN:
            return None
        if marker in _JPEG_SOF_MARKERS:
            if offset + 9 > len(head):
                return _NEED_MORE
            height = int.from_bytes(head[offset + 5 : offset + 7])
            width = int.from_bytes(head[offset + 7 : offset + 9])
            return width, height
        offset += 2 + int.from_bytes(head[offset + 2 : offset + 4])


_DIMENSION_READERS: Final = {
    PNG: _png_dimensions,
    GIF: _gif_dimensions,
    WEBP: _webp_dimensions,
    JPEG: _jpeg_dimensions,
}


def image_dimensions(content_type: str, head: bytes) -> Dimensions | str | None:
    """Width and height from an image header; `_NEED_MORE` if `head` stops short; None if broken."""
    return _DIMENSION_READERS[content_type](head)


class ContentInspector:
    """Checks a file chunk by chunk, as it is stored, and says what it was at the end.

    `feed` raises as soon as the bytes break a rule of `policy` for `purpose`: too many
    bytes, a type the purpose does not take, markup, an image header that is broken or
    declares too many pixels. So a refused upload stops early, and what was stored of it
    is thrown away by the caller. `finish` checks what can only be known at the end.
    """

    __slots__ = (
        "_content_type",
        "_dimensions_checked",
        "_hash",
        "_head",
        "_head_tried",
        "_marker_tail",
        "_policy",
        "_purpose",
        "_size",
        "_text_decoder",
        "_text_lead",
    )

    def __init__(self, *, policy: UploadPolicy, purpose: FilePurpose) -> None:
        self._policy = policy
        self._purpose = purpose
        self._hash = hashlib.sha256()
        self._size = 0
        self._head = bytearray()
        self._head_tried = 0
        self._marker_tail = b""
        self._content_type: str | None = None
        self._dimensions_checked = False
        self._text_decoder: codecs.IncrementalDecoder | None = None
        self._text_lead: str | None = ""

    @property
    def size(self) -> int:
        """The bytes seen so far."""
        return self._size

    def feed(self, chunk: bytes) -> None:
        """Take the next bytes of the file; raise the domain error of the first rule broken."""
        if not chunk:
            return
        self._size += len(chunk)
        if self._size > self._policy.max_bytes[self._purpose]:
            self._policy.check_size(self._purpose, self._size)
        self._hash.update(chunk)
        self._scan_for_markup(chunk)
        if self._text_decoder is not None:
            self._read_text(chunk)
        taken = 0
        if len(self._head) < HEAD_LIMIT and (
            self._content_type is None or not self._dimensions_checked
        ):
            taken = min(len(chunk), HEAD_LIMIT - len(self._head))
            self._head += chunk[:taken]
        if self._content_type is None and len(self._head) >= _MAGIC_NEEDED:
            self._decide_type()
            if self._text_decoder is not None:
                self._read_text(chunk[taken:])
        if (
            self._content_type is not None
            and not self._dimensions_checked
            and (
                self._content_type != JPEG
                or len(self._head) - self._head_tried >= _DIMENSIONS_RETRY_BYTES
                or len(self._head) >= HEAD_LIMIT
                or self._head_tried == 0
            )
        ):
            self._check_dimensions(at_end=False)

    def finish(self) -> InspectedContent:
        """The whole file was fed: its type, size and digest, or the rule it broke."""
        self._policy.check_size(self._purpose, self._size)
        if self._content_type is None:
            self._decide_type()
        if self._text_decoder is not None:
            self._read_text(b"", final=True)
        if not self._dimensions_checked:
            self._check_dimensions(at_end=True)
        assert self._content_type is not None  # noqa: S101 - _decide_type set it or raised
        return InspectedContent(
            content_type=self._content_type,
            size=self._size,
            sha256=Sha256Digest(self._hash.hexdigest()),
        )

    def _scan_for_markup(self, chunk: bytes) -> None:
        seam = self._marker_tail + chunk[:_MARKER_OVERLAP]
        if _ACTIVE_MARKUP.search(seam) or _ACTIVE_MARKUP.search(chunk):
            raise UnsupportedFileTypeError(
                "holds HTML or SVG markup, which a browser could run; it is refused "
                "whatever its type"
            )
        self._marker_tail = (
            chunk[-_MARKER_OVERLAP:]
            if len(chunk) >= _MARKER_OVERLAP
            else (self._marker_tail + chunk)[-_MARKER_OVERLAP:]
        )

    def _decide_type(self) -> None:
        """Name the type from the head; plain text is what is left, and is decoded from here."""
        detected = magic_type(bytes(self._head[:_MAGIC_READ]))
        if detected is None:
            detected = PLAIN_TEXT
            self._text_decoder = codecs.getincrementaldecoder("utf-8")("strict")
            bom = len(_UTF8_BOM) if self._head.startswith(_UTF8_BOM) else 0
            self._read_text(bytes(self._head[bom:]))
        self._policy.check_type(self._purpose, detected)
        self._content_type = detected
        if detected not in _DIMENSION_READERS:
            self._dimensions_checked = True

    def _read_text(self, data: bytes, *, final: bool = False) -> None:
        assert self._text_decoder is not None  # noqa: S101 - only plain text is decoded
        if self._text_lead is None and data.isascii() and not self._text_decoder.getstate()[0]:
            self._refuse_controls(b"\0" in data.translate(_ASCII_CONTROL_TO_NUL))
            return
        try:
            text = self._text_decoder.decode(data, final=final)
        except UnicodeDecodeError:
            raise UnsupportedFileTypeError(
                "is neither a known binary type nor UTF-8 text"
            ) from None
        if self._text_lead is not None:
            self._sniff_text_lead(text, final=final)
        self._refuse_controls(has_control_characters(text))

    def _refuse_controls(self, found: bool) -> None:  # noqa: FBT001 - the one fact it acts on
        if found:
            raise UnsupportedFileTypeError(
                "is neither a known binary type nor plain text: it holds control characters"
            )

    def _sniff_text_lead(self, text: str, *, final: bool) -> None:
        """Refuse text whose first characters past its whitespace a browser takes for markup."""
        assert self._text_lead is not None  # noqa: S101 - only while the lead is undecided
        lead = (self._text_lead + text).lstrip(_SNIFF_WHITESPACE)
        if len(lead) < _SNIFF_WINDOW and not final:
            self._text_lead = lead
            return
        self._text_lead = None
        if _SNIFFED_AS_HTML.match(lead):
            raise UnsupportedFileTypeError(
                "starts like an HTML, SVG or XML document, which a browser could run; "
                "it is refused as text"
            )

    def _check_dimensions(self, *, at_end: bool) -> None:
        assert self._content_type is not None  # noqa: S101 - called once the type is known
        self._head_tried = len(self._head)
        found = image_dimensions(self._content_type, bytes(self._head))
        if found == _NEED_MORE:
            if at_end or len(self._head) >= HEAD_LIMIT:
                raise UnsupportedFileTypeError(
                    f"is not a readable {self._content_type} image: no size in its first "
                    f"{HEAD_LIMIT // 1024} KiB"
                )
            return
        if found is None or isinstance(found, str) or 0 in found:
            raise UnsupportedFileTypeError(f"is not a valid {self._content_type} image")
        width, height = found
        if width * height > self._policy.max_image_pixels:
            raise ImageTooLargeError(
                f"is {width}x{height} pixels, more than the {self._policy.max_image_pixels:,} "
                "allowed"
            )
        self._dimensions_checked = True
        self._head = bytearray()
