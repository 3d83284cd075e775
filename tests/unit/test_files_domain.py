"""The files domain: names and digests, the upload policy, content inspection of real
images made by Pillow, and the StoredFile aggregate's life and readers.
"""

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from domain.articles.values import ArticleId
from domain.files.content import HEAD_LIMIT, ContentInspector, InspectedContent
from domain.files.errors import (
    EmptyFileError,
    FileStateError,
    FileTooLargeError,
    ImageTooLargeError,
    StorageQuotaExceededError,
    UnsupportedFileTypeError,
    UploadMismatchError,
)
from domain.files.events import FileDeleted, FileUploaded
from domain.files.policy import GIF, JPEG, PDF, PLAIN_TEXT, PNG, WEBP, UploadPolicy
from domain.files.stored_file import StoredFile
from domain.files.values import FileId, FileName, FilePurpose, FileStatus, Sha256Digest
from domain.shared.errors import DomainError
from domain.users.values import UserId
from tests.support.files import (
    chunked,
    image_bytes,
    jpeg_with_big_exif,
    png,
    png_declaring,
    sha256_of,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
OWNER, OTHER = UserId(UUID(int=1)), UserId(UUID(int=2))
ARTICLE = ArticleId(UUID(int=50))
FILE_ID = FileId(UUID(int=77))
MIB = 1_048_576

POLICY = UploadPolicy(
    max_bytes={
        FilePurpose.AVATAR: 2 * MIB,
        FilePurpose.ARTICLE_IMAGE: 5 * MIB,
        FilePurpose.ATTACHMENT: 10 * MIB,
    },
    quota_bytes=10 * MIB,
    max_image_pixels=1_000_000,
)
CHUNK_SIZES = (1, 7, 65536)

IMAGES = {
    "png": (png(), PNG),
    "jpeg": (image_bytes("JPEG", quality=90), JPEG),
    "jpeg with a big exif segment": (jpeg_with_big_exif(), JPEG),
    "jpeg progressive": (image_bytes("JPEG", progressive=True), JPEG),
    "gif": (image_bytes("GIF"), GIF),
    "webp lossy": (image_bytes("WEBP", quality=80), WEBP),
    "webp lossless": (image_bytes("WEBP", lossless=True), WEBP),
    "webp extended with alpha": (image_bytes("WEBP", mode="RGBA", quality=80), WEBP),
}
"""Every image is 40 x 30 pixels."""


def small_limits(limit: int) -> UploadPolicy:
    return UploadPolicy(
        max_bytes=dict.fromkeys(FilePurpose, limit),
        quota_bytes=10 * limit,
        max_image_pixels=1_000_000,
    )


def inspect(
    chunks: Iterable[bytes],
    *,
    purpose: FilePurpose = FilePurpose.ATTACHMENT,
    policy: UploadPolicy = POLICY,
) -> InspectedContent:
    inspector = ContentInspector(policy=policy, purpose=purpose)
    for chunk in chunks:
        inspector.feed(chunk)
    return inspector.finish()


def bytes_fed_until_refused(
    data: bytes, chunk_size: int, *, purpose: FilePurpose, policy: UploadPolicy = POLICY
) -> tuple[int, DomainError]:
    """Feed `data` chunk by chunk; how many bytes were fed when `feed` refused, and why."""
    inspector = ContentInspector(policy=policy, purpose=purpose)
    fed = 0
    for chunk in chunked(data, chunk_size):
        fed += len(chunk)
        try:
            inspector.feed(chunk)
        except DomainError as error:
            return fed, error
    raise AssertionError("feed accepted every chunk")


def ready_file(
    purpose: FilePurpose = FilePurpose.ATTACHMENT, *, content: bytes = b"hello"
) -> StoredFile:
    stored = StoredFile.received(
        id=FILE_ID,
        owner_id=OWNER,
        purpose=purpose,
        name=FileName("notes.txt"),
        content=InspectedContent(
            content_type=PLAIN_TEXT, size=len(content), sha256=Sha256Digest(sha256_of(content))
        ),
        backend="memory",
        now=NOW,
    )
    stored.pull_events()
    return stored


def announced_file(content: bytes, purpose: FilePurpose = FilePurpose.AVATAR) -> StoredFile:
    return StoredFile.announced(
        id=FILE_ID,
        owner_id=OWNER,
        purpose=purpose,
        name=FileName("me.png"),
        content_type=PNG,
        size=len(content),
        sha256=Sha256Digest(sha256_of(content)),
        backend="memory",
        now=NOW,
    )


def content_of(data: bytes, content_type: str = PNG) -> InspectedContent:
    return InspectedContent(
        content_type=content_type, size=len(data), sha256=Sha256Digest(sha256_of(data))
    )


# FileName


def test_a_file_name_is_nfc_normalized_and_trimmed() -> None:
    assert FileName.parse("  cafe\u0301 menu.txt \n").value == "caf\u00e9 menu.txt"


def test_a_file_name_is_measured_once_composed() -> None:
    decomposed = "e\u0301" * 100  # 300 bytes of UTF-8; 200 once composed
    assert FileName.parse(decomposed).value == "\u00e9" * 100


def test_a_file_name_may_take_255_bytes_of_utf8_and_no_more() -> None:
    assert len(FileName.parse("\u00e9" * 127 + "a").value.encode()) == 255
    with pytest.raises(DomainError) as refused:
        FileName.parse("\u00e9" * 128)
    assert (refused.value.field, refused.value.message) == (
        "name",
        "is too long (maximum is 255 bytes of UTF-8)",
    )


@pytest.mark.parametrize("raw", ["../x", "a/b", "a\\b", ".", "..", " .. ", "/etc/passwd"])
def test_a_file_name_that_holds_a_path_is_refused(raw: str) -> None:
    with pytest.raises(DomainError) as refused:
        FileName.parse(raw)
    assert (refused.value.field, refused.value.message) == ("name", "may not contain a path")


@pytest.mark.parametrize(
    "raw",
    [
        "a\x00b.txt",
        "cod\u202egpj.exe",
        "tab\tname",
        "line\nbreak.txt",
        "zero\u200bwidth",
        "soft\u00adhyphen.txt",
        "byte\ufefforder.txt",
        "tag\U000e0041.txt",
        "line\u2028separator.txt",
        "paragraph\u2029separator.txt",
        "private\ue000use.txt",
        "unassigned\u0378.txt",
        "noncharacter\ufffe.txt",
    ],
)
def test_a_file_name_with_control_or_format_characters_is_refused(raw: str) -> None:
    """Refused categories: Cc (NUL, tab, line feed), Cf (direction override, zero width
    space, soft hyphen, byte order mark, tag), Zl (U+2028), Zp (U+2029), Co (private use)
    and Cn (unassigned, noncharacters)."""
    with pytest.raises(DomainError) as refused:
        FileName.parse(raw)
    assert (refused.value.field, refused.value.message) == (
        "name",
        "may not contain control or format characters",
    )


def test_a_file_name_with_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(DomainError) as refused:
        FileName.parse("half\ud800pair.txt")
    assert (refused.value.field, refused.value.message) == (
        "name",
        "may not contain control or format characters",
    )


@pytest.mark.parametrize("raw", ["", "   ", "\t\n"])
def test_a_blank_file_name_is_refused(raw: str) -> None:
    with pytest.raises(DomainError) as refused:
        FileName.parse(raw)
    assert (refused.value.field, refused.value.message) == ("name", "can't be blank")


@pytest.mark.parametrize(
    "raw",
    [
        "資料\u3000最終版.pdf",
        "my\u00a0notes.txt",
        "em\u2003space.txt",
        "100\u202f€.txt",
        "ogham\u1680space.txt",
    ],
)
def test_a_file_name_may_hold_spaces_other_than_ascii(raw: str) -> None:
    """Spaces (Unicode Zs) are neither control nor format characters, the rule FileName
    states: Japanese names often hold U+3000, and macOS types U+00A0 on Option-Space."""
    assert FileName.parse(raw).value == raw


def test_dots_inside_a_name_are_just_a_name() -> None:
    assert FileName.parse("...").value == "..."
    assert FileName.parse("archive.tar.gz").value == "archive.tar.gz"


# Sha256Digest


def test_a_digest_is_read_in_either_case_and_kept_in_lower_case() -> None:
    digest = sha256_of(b"x")
    assert Sha256Digest.parse(f" {digest.upper()} ").value == digest


@pytest.mark.parametrize(
    "raw", ["", "ab" * 31 + "a", "ab" * 32 + "a", "g" * 64, "AB" * 32, "ab" * 30 + " " * 4]
)
def test_a_digest_must_be_64_lower_case_hex_digits(raw: str) -> None:
    with pytest.raises(DomainError) as refused:
        Sha256Digest(raw)
    assert (refused.value.field, refused.value.message) == (
        "sha256",
        "must be 64 hexadecimal digits",
    )


# UploadPolicy


def test_a_policy_needs_a_size_limit_for_every_purpose() -> None:
    with pytest.raises(ValueError, match="attachment"):
        UploadPolicy(
            max_bytes={FilePurpose.AVATAR: 1, FilePurpose.ARTICLE_IMAGE: 1},
            quota_bytes=1,
            max_image_pixels=1,
        )


def test_the_size_check_refuses_an_empty_file() -> None:
    with pytest.raises(EmptyFileError) as refused:
        POLICY.check_size(FilePurpose.ATTACHMENT, 0)
    assert (refused.value.field, refused.value.message) == ("file", "is empty")


def test_the_size_check_names_the_purpose_and_its_limit() -> None:
    POLICY.check_size(FilePurpose.AVATAR, 2 * MIB)
    with pytest.raises(FileTooLargeError) as refused:
        POLICY.check_size(FilePurpose.AVATAR, 2 * MIB + 1)
    assert refused.value.field == "file"
    assert refused.value.message == "is larger than the 2.0 MiB allowed for avatar files"


def test_a_limit_under_a_mebibyte_is_told_in_bytes() -> None:
    with pytest.raises(FileTooLargeError) as refused:
        small_limits(1000).check_size(FilePurpose.ATTACHMENT, 1001)
    assert refused.value.message == "is larger than the 1000 bytes allowed for attachment files"


def test_the_type_check_lists_what_the_purpose_accepts() -> None:
    POLICY.check_type(FilePurpose.ATTACHMENT, PDF)
    with pytest.raises(UnsupportedFileTypeError) as refused:
        POLICY.check_type(FilePurpose.AVATAR, PDF)
    assert refused.value.field == "content_type"
    assert refused.value.message == (
        "application/pdf is not accepted for avatar files; "
        "send one of image/gif, image/jpeg, image/png, image/webp"
    )


@pytest.mark.parametrize("purpose", list(FilePurpose))
def test_no_purpose_accepts_svg(purpose: FilePurpose) -> None:
    assert "image/svg+xml" not in POLICY.allowed_types(purpose)
    with pytest.raises(UnsupportedFileTypeError):
        POLICY.check_type(purpose, "image/svg+xml")


def test_the_quota_check_allows_filling_the_quota_exactly_and_says_what_is_in_use() -> None:
    POLICY.check_quota(in_use=9 * MIB, incoming=MIB)
    with pytest.raises(StorageQuotaExceededError) as refused:
        POLICY.check_quota(in_use=9 * MIB + MIB // 2, incoming=MIB)
    assert refused.value.field == "quota"
    assert refused.value.message == (
        "would exceed your storage quota of 10.0 MiB (9.5 MiB in use); delete files to make room"
    )


# ContentInspector, images


def test_the_image_fixtures_cover_each_webp_flavour_and_a_late_jpeg_frame_header() -> None:
    assert IMAGES["webp lossy"][0][12:16] == b"VP8 "
    assert IMAGES["webp lossless"][0][12:16] == b"VP8L"
    assert IMAGES["webp extended with alpha"][0][12:16] == b"VP8X"
    assert jpeg_with_big_exif().find(b"\xff\xc0") > 64_000


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
@pytest.mark.parametrize("name", list(IMAGES))
def test_an_image_is_recognized_the_same_in_chunks_of_any_size(name: str, chunk_size: int) -> None:
    data, content_type = IMAGES[name]
    found = inspect(chunked(data, chunk_size), purpose=FilePurpose.AVATAR)
    assert found == InspectedContent(
        content_type=content_type, size=len(data), sha256=Sha256Digest(sha256_of(data))
    )


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
@pytest.mark.parametrize("name", list(IMAGES))
def test_an_image_header_gives_its_width_and_height(name: str, chunk_size: int) -> None:
    data, _ = IMAGES[name]
    exactly_enough = UploadPolicy(
        max_bytes=POLICY.max_bytes, quota_bytes=POLICY.quota_bytes, max_image_pixels=40 * 30
    )
    inspect(chunked(data, chunk_size), purpose=FilePurpose.AVATAR, policy=exactly_enough)
    one_short = UploadPolicy(
        max_bytes=POLICY.max_bytes, quota_bytes=POLICY.quota_bytes, max_image_pixels=40 * 30 - 1
    )
    with pytest.raises(ImageTooLargeError) as refused:
        inspect(chunked(data, chunk_size), purpose=FilePurpose.AVATAR, policy=one_short)
    assert refused.value.message == "is 40x30 pixels, more than the 1,199 allowed"


def test_a_decompression_bomb_is_refused_from_its_header_alone() -> None:
    fed, refused = bytes_fed_until_refused(
        png_declaring(100_000, 100_000), 1, purpose=FilePurpose.AVATAR
    )
    assert isinstance(refused, ImageTooLargeError)
    assert fed == 24, "the PNG header ends at byte 24"
    assert refused.message == "is 100000x100000 pixels, more than the 1,000,000 allowed"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("png cut inside its header", png()[:20]),
        ("png signature only", png()[:8]),
        ("jpeg cut inside its exif", jpeg_with_big_exif()[:30_000]),
        ("gif cut before its size", image_bytes("GIF")[:9]),
        ("webp cut before its size", image_bytes("WEBP", quality=80)[:25]),
    ],
)
def test_a_truncated_image_header_is_refused_when_the_file_ends(name: str, data: bytes) -> None:
    inspector = ContentInspector(policy=POLICY, purpose=FilePurpose.AVATAR)
    for chunk in chunked(data, 7):
        inspector.feed(chunk)
    with pytest.raises(UnsupportedFileTypeError, match="is not a readable image/"):
        inspector.finish()


@pytest.mark.parametrize(
    "data",
    [
        png_declaring(0, 30),
        png_declaring(40, 0),
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDX" + b"\x00" * 16,
    ],
)
def test_an_image_header_without_a_real_size_is_refused(data: bytes) -> None:
    with pytest.raises(UnsupportedFileTypeError, match="is not a valid image/png image"):
        inspect([data], purpose=FilePurpose.AVATAR)


def test_an_image_too_large_is_refused_without_reading_the_rest() -> None:
    data = png(size=(1001, 1000)) + b"\x00" * 10_000
    fed, refused = bytes_fed_until_refused(data, 7, purpose=FilePurpose.AVATAR)
    assert isinstance(refused, ImageTooLargeError)
    assert fed == 28, "the first chunk that completes the 24-byte header"


# ContentInspector, text


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_utf8_text_with_tabs_and_line_breaks_is_plain_text(chunk_size: int) -> None:
    data = "Grüße, 世界! 🎉\n\tindented\r\nand 1 < 2 > 0, <b>bold</b>\n".encode()
    found = inspect(chunked(data, chunk_size))
    assert (found.content_type, found.size, found.sha256.value) == (
        PLAIN_TEXT,
        len(data),
        sha256_of(data),
    )


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_a_utf8_byte_order_mark_is_allowed(chunk_size: int) -> None:
    data = b"\xef\xbb\xbf" + b"byte order mark, then text"
    assert inspect(chunked(data, chunk_size)).content_type == PLAIN_TEXT


@pytest.mark.parametrize("data", [b"hi", b"\xef\xbb\xbfok", "é".encode()])
def test_text_shorter_than_a_magic_number_is_plain_text(data: bytes) -> None:
    assert inspect([data]).content_type == PLAIN_TEXT


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_text_in_utf16_or_utf32_is_refused(encoding: str, chunk_size: int) -> None:
    data = "plain words, in another encoding".encode(encoding)
    with pytest.raises(UnsupportedFileTypeError, match="neither a known binary type nor"):
        inspect(chunked(data, chunk_size))


@pytest.mark.parametrize(
    "data",
    [
        b"ring the bell\x07 now",
        b"colours \x1b[31m red",
        b"a NUL \x00 inside",
        "reads backwards \u202e txt.exe".encode(),
        "hidden\u200bjoin in the middle".encode(),
        b"form feed \x0c here",
    ],
)
def test_text_with_control_or_format_characters_is_refused(data: bytes) -> None:
    with pytest.raises(UnsupportedFileTypeError, match="control characters"):
        inspect(chunked(data, 5))


@pytest.mark.parametrize(
    "data", [b"invalid \xff\xfe bytes in text", b"ends inside a character \xc3"]
)
def test_bytes_that_are_not_utf8_are_refused(data: bytes) -> None:
    with pytest.raises(UnsupportedFileTypeError, match="nor UTF-8 text"):
        inspect(chunked(data, 3))


# ContentInspector, markup


@pytest.mark.parametrize(
    "marker",
    [
        b"<script",
        b"<SCRIPT",
        b"<html",
        b"<Svg",
        b"<iframe",
        b"<!DOCTYPE",
        b"<body",
        b"<object",
        b"<embed",
    ],
)
@pytest.mark.parametrize(
    ("kind", "before"),
    [("text", b"notes\n" * 10), ("pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), ("png", png())],
)
def test_markup_is_refused_anywhere_in_any_type(kind: str, before: bytes, marker: bytes) -> None:
    data = before + marker + b" src=x>" + b"tail" * 10
    with pytest.raises(UnsupportedFileTypeError) as refused:
        inspect(chunked(data, 65536))
    assert refused.value.message == (
        "holds HTML or SVG markup, which a browser could run; it is refused whatever its type"
    )


@pytest.mark.parametrize("marker", [b"<script", b"<!doctype", b"<svg"])
def test_markup_split_across_chunks_is_refused_wherever_it_is_split(marker: bytes) -> None:
    head, tail = b"x" * 100 + b" ", b">alert(1)</script>"
    data = head + marker + tail
    for split in range(len(head) + 1, len(head) + len(marker)):
        with pytest.raises(UnsupportedFileTypeError, match="markup"):
            inspect([data[:split], data[split:]])


def test_markup_split_into_single_bytes_is_refused() -> None:
    fed, refused = bytes_fed_until_refused(
        b"harmless words <script>", 1, purpose=FilePurpose.ATTACHMENT
    )
    assert isinstance(refused, UnsupportedFileTypeError)
    assert fed == len(b"harmless words <script")


def test_a_gif_that_carries_a_script_in_its_comment_is_refused() -> None:
    polyglot = image_bytes("GIF", comment=b"<script>alert(document.cookie)</script>")
    assert polyglot.startswith(b"GIF89a")
    with pytest.raises(UnsupportedFileTypeError, match="markup"):
        inspect(chunked(polyglot, 7), purpose=FilePurpose.AVATAR)


# ContentInspector, text a browser sniffs as a page

SNIFFED_AS_PAGE = (
    "starts like an HTML, SVG or XML document, which a browser could run; it is refused as text"
)
SHORT_SNIFFED_TAGS = [
    "<head",
    "<h1",
    "<div",
    "<font",
    "<table",
    "<a",
    "<style",
    "<title",
    "<b",
    "<br",
    "<p",
    "<?xml",
]
"""Tags of the WHATWG MIME sniffing list that are not markup refused anywhere: refused
when text starts with them, followed by a space or ``>``."""
PAGE_TAIL = "rest of the page, long enough to fill any sniffing window\n"


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
@pytest.mark.parametrize("ending", [" ", ">"])
@pytest.mark.parametrize("tag", SHORT_SNIFFED_TAGS)
def test_text_that_starts_with_a_tag_a_browser_sniffs_is_refused(
    tag: str, ending: str, chunk_size: int
) -> None:
    data = (tag + ending + PAGE_TAIL).encode()
    with pytest.raises(UnsupportedFileTypeError) as refused:
        inspect(chunked(data, chunk_size))
    assert refused.value.message == SNIFFED_AS_PAGE


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
@pytest.mark.parametrize("start", ["<!--", "<!-- a comment -->", "<!--x"])
def test_text_that_starts_with_a_comment_is_refused(start: str, chunk_size: int) -> None:
    data = (start + PAGE_TAIL).encode()
    with pytest.raises(UnsupportedFileTypeError) as refused:
        inspect(chunked(data, chunk_size))
    assert refused.value.message == SNIFFED_AS_PAGE


@pytest.mark.parametrize("start", ["<DIV>", "<Title ", "<?XML ", "<H1>", "<A ", "<bR>"])
def test_the_sniffed_tags_are_matched_in_any_case(start: str) -> None:
    with pytest.raises(UnsupportedFileTypeError) as refused:
        inspect(chunked((start + PAGE_TAIL).encode(), 7))
    assert refused.value.message == SNIFFED_AS_PAGE


@pytest.mark.parametrize(
    "start",
    ["<!DOCTYPE HTML>", "<!doctype html ", "<html>", "<script>", "<iframe ", "<body>", "<svg "],
)
def test_text_that_starts_with_active_markup_is_refused(start: str) -> None:
    with pytest.raises(UnsupportedFileTypeError):
        inspect(chunked((start + PAGE_TAIL).encode(), 1))


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
@pytest.mark.parametrize(
    "lead",
    [
        b"\xef\xbb\xbf",
        b"\xef\xbb\xbf \r\n\t",
        b" ",
        b"\r\n\t " * 500,
        b"\n" * 40,
    ],
    ids=["bom", "bom and whitespace", "a space", "2000 whitespace characters", "40 newlines"],
)
@pytest.mark.parametrize("start", ["<p>", "<table ", "<!--", "<?xml "])
def test_a_sniffed_start_is_refused_after_leading_whitespace_or_a_byte_order_mark(
    start: str, lead: bytes, chunk_size: int
) -> None:
    data = lead + (start + PAGE_TAIL).encode()
    with pytest.raises(UnsupportedFileTypeError) as refused:
        inspect(chunked(data, chunk_size))
    assert refused.value.message == SNIFFED_AS_PAGE


@pytest.mark.parametrize("chunk_size", [7, 65536])
def test_a_sniffed_start_is_refused_after_whitespace_longer_than_the_head(
    chunk_size: int,
) -> None:
    data = b" " * (HEAD_LIMIT + 10) + (b"<div>" + PAGE_TAIL.encode())
    with pytest.raises(UnsupportedFileTypeError) as refused:
        inspect(chunked(data, chunk_size), policy=small_limits(2 * HEAD_LIMIT))
    assert refused.value.message == SNIFFED_AS_PAGE


@pytest.mark.parametrize(("start", "total"), [("<p>", 3), ("<b>", 3), ("<!--", 4), ("\n<a ", 4)])
def test_a_file_that_is_only_a_sniffed_start_is_refused_when_it_ends(
    start: str, total: int
) -> None:
    data = start.encode()
    assert len(data) == total
    inspector = ContentInspector(policy=POLICY, purpose=FilePurpose.ATTACHMENT)
    for chunk in chunked(data, 1):
        inspector.feed(chunk)
    with pytest.raises(UnsupportedFileTypeError) as refused:
        inspector.finish()
    assert refused.value.message == SNIFFED_AS_PAGE


def test_a_sniffed_start_is_refused_while_the_file_streams() -> None:
    fed, refused = bytes_fed_until_refused(
        b"<p>" + b"x" * 10_000, 1, purpose=FilePurpose.ATTACHMENT
    )
    assert isinstance(refused, UnsupportedFileTypeError)
    assert refused.message == SNIFFED_AS_PAGE
    assert fed < 100, "refused from its first characters, not once the file ended"


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
@pytest.mark.parametrize(
    "data",
    [
        b"<abbr>NASA</abbr> is an abbreviation",
        b"<pre>preformatted</pre>",
        b"<br/> with a slash is not a sniffed start",
        b"<b\n>bold after a newline</b>",
        b"<p",
        b"< p> with a space after the bracket",
        b"<?xml-stylesheet is not the xml declaration",
        b"<!- not quite a comment",
        b"-->",
        b"x<p>one character before the tag",
        b"\xc2\xa0<p> after a no-break space, which is not whitespace to a browser",
        b"   \r\n\t   ",
    ],
)
def test_text_that_does_not_start_like_a_page_is_plain_text(data: bytes, chunk_size: int) -> None:
    assert inspect(chunked(data, chunk_size)).content_type == PLAIN_TEXT


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_sniffed_tags_later_in_text_are_plain_text(chunk_size: int) -> None:
    data = (
        b"Meeting notes\n"
        b"<p>a paragraph</p> <div>a block</div> <a href=x>a link</a> <b>bold</b> <br>\n"
        b"<h1>title</h1> <table> <font> <style> <title> <head> <!-- comment --> <?xml ?>\n"
    )
    assert inspect(chunked(data, chunk_size)).content_type == PLAIN_TEXT


@pytest.mark.parametrize("marker", ["<script", "<html", "<svg", "<iframe", "<body", "<!doctype"])
def test_long_markers_later_in_text_are_still_refused(marker: str) -> None:
    data = f"Meeting notes\n<p>a paragraph</p>\n{marker}>".encode()
    with pytest.raises(UnsupportedFileTypeError) as refused:
        inspect(chunked(data, 7))
    assert refused.value.message == (
        "holds HTML or SVG markup, which a browser could run; it is refused whatever its type"
    )


# ContentInspector, size and type


@pytest.mark.parametrize(("chunk_size", "fed_when_refused"), [(1, 1001), (10, 1010), (600, 1200)])
def test_an_oversized_file_is_refused_by_the_chunk_that_passes_the_limit(
    chunk_size: int, fed_when_refused: int
) -> None:
    fed, refused = bytes_fed_until_refused(
        b"a" * 5000, chunk_size, purpose=FilePurpose.ATTACHMENT, policy=small_limits(1000)
    )
    assert isinstance(refused, FileTooLargeError)
    assert fed == fed_when_refused


def test_a_file_exactly_at_the_limit_is_accepted() -> None:
    assert inspect(chunked(b"a" * 1000, 7), policy=small_limits(1000)).size == 1000


def test_an_empty_file_is_refused_when_it_ends() -> None:
    inspector = ContentInspector(policy=POLICY, purpose=FilePurpose.ATTACHMENT)
    inspector.feed(b"")
    assert inspector.size == 0
    with pytest.raises(EmptyFileError):
        inspector.finish()


@pytest.mark.parametrize(
    ("purpose", "data"),
    [
        (FilePurpose.AVATAR, b"%PDF-1.7\n" + b"0" * 100),
        (FilePurpose.ARTICLE_IMAGE, b"PK\x03\x04" + b"\x00" * 100),
        (FilePurpose.AVATAR, b"just some words here"),
    ],
)
def test_a_type_the_purpose_refuses_is_refused_after_twelve_bytes(
    purpose: FilePurpose, data: bytes
) -> None:
    fed, refused = bytes_fed_until_refused(data, 1, purpose=purpose)
    assert isinstance(refused, UnsupportedFileTypeError)
    assert fed == 12
    assert f"is not accepted for {purpose.value} files" in refused.message


@pytest.mark.parametrize(
    ("data", "content_type"),
    [(b"%PDF-1.4\n%%EOF\n", PDF), (b"PK\x05\x06" + b"\x00" * 18, "application/zip")],
)
def test_attachments_take_pdf_and_zip(data: bytes, content_type: str) -> None:
    assert inspect(chunked(data, 1)).content_type == content_type


def test_text_past_the_head_is_still_checked() -> None:
    data = b"a" * (HEAD_LIMIT + 10) + b"\x07"
    with pytest.raises(UnsupportedFileTypeError, match="control characters"):
        inspect([data], policy=small_limits(2 * HEAD_LIMIT))


# StoredFile


def test_a_file_received_through_the_api_is_ready_and_announces_itself() -> None:
    data = png()
    stored = StoredFile.received(
        id=FILE_ID,
        owner_id=OWNER,
        purpose=FilePurpose.AVATAR,
        name=FileName("me.png"),
        content=content_of(data),
        backend="memory",
        now=NOW,
    )
    assert stored.status is FileStatus.READY
    assert stored.storage_key == f"files/{FILE_ID}"
    assert (stored.size, stored.sha256.value, stored.content_type) == (
        len(data),
        sha256_of(data),
        PNG,
    )
    assert stored.pull_events() == [
        FileUploaded(
            aggregate_id=str(FILE_ID),
            occurred_at=NOW,
            owner_id=str(OWNER),
            purpose="avatar",
            content_type=PNG,
            size=len(data),
        )
    ]


def test_an_announced_file_is_pending_and_completes_when_its_object_matches() -> None:
    data = png()
    stored = announced_file(data)
    assert stored.status is FileStatus.PENDING
    assert not stored.has_pending_events
    stored.complete(content_of(data, WEBP), now=LATER)
    assert (stored.status, stored.content_type, stored.updated_at) == (
        FileStatus.READY,
        WEBP,
        LATER,
    )
    [uploaded] = stored.pull_events()
    assert isinstance(uploaded, FileUploaded)
    assert (uploaded.occurred_at, uploaded.content_type, uploaded.size) == (LATER, WEBP, len(data))


@pytest.mark.parametrize(
    ("announced", "arrived", "message"),
    [
        (b"12345", b"123456", "the uploaded object has 6 bytes, 5 were announced"),
        (b"12345", b"54321", "the uploaded object's SHA-256 is not the one announced"),
    ],
)
def test_completing_with_another_object_changes_nothing(
    announced: bytes, arrived: bytes, message: str
) -> None:
    stored = announced_file(announced)
    with pytest.raises(UploadMismatchError) as refused:
        stored.complete(content_of(arrived, JPEG), now=LATER)
    assert refused.value.message == message
    assert (stored.status, stored.content_type, stored.updated_at) == (
        FileStatus.PENDING,
        PNG,
        NOW,
    )
    assert not stored.has_pending_events


def test_only_a_pending_file_completes_or_is_rejected() -> None:
    stored = ready_file()
    with pytest.raises(FileStateError):
        stored.complete(content_of(b"hello", PLAIN_TEXT), now=LATER)
    with pytest.raises(FileStateError):
        stored.reject(now=LATER)
    assert stored.status is FileStatus.READY


def test_a_rejected_upload_raises_no_event_and_cannot_complete_later() -> None:
    data = png()
    stored = announced_file(data)
    stored.reject(now=LATER)
    assert (stored.status, stored.updated_at) == (FileStatus.REJECTED, LATER)
    assert not stored.has_pending_events
    with pytest.raises(FileStateError):
        stored.complete(content_of(data), now=LATER)


def test_deleting_a_ready_file_records_who_deleted_it_once() -> None:
    stored = ready_file()
    assert stored.delete(by=OTHER, now=LATER)
    assert (stored.status, stored.updated_at) == (FileStatus.DELETED, LATER)
    assert stored.pull_events() == [
        FileDeleted(
            aggregate_id=str(FILE_ID),
            occurred_at=LATER,
            owner_id=str(OWNER),
            purpose="attachment",
            deleted_by=str(OTHER),
        )
    ]
    assert not stored.delete(by=OWNER, now=LATER + timedelta(minutes=1))
    assert stored.updated_at == LATER
    assert not stored.has_pending_events


@pytest.mark.parametrize("reject_first", [False, True])
def test_deleting_a_file_that_was_never_ready_is_no_news(reject_first: bool) -> None:
    stored = announced_file(png())
    if reject_first:
        stored.reject(now=NOW)
    assert stored.delete(by=OWNER, now=LATER)
    assert stored.status is FileStatus.DELETED
    assert not stored.has_pending_events


def test_a_ready_article_image_attached_to_an_article_is_public_until_detached() -> None:
    stored = ready_file(FilePurpose.ARTICLE_IMAGE)
    assert not stored.is_public
    stored.attach_to(ARTICLE, now=LATER)
    assert (stored.article_id, stored.updated_at, stored.is_public) == (ARTICLE, LATER, True)
    stored.detach(now=LATER + timedelta(minutes=1))
    assert (stored.article_id, stored.is_public) == (None, False)


@pytest.mark.parametrize("purpose", [FilePurpose.AVATAR, FilePurpose.ATTACHMENT])
def test_only_article_images_go_with_articles(purpose: FilePurpose) -> None:
    stored = ready_file(purpose)
    with pytest.raises(FileStateError, match="only article_image files go with articles"):
        stored.attach_to(ARTICLE, now=LATER)
    assert stored.article_id is None


def test_a_pending_article_image_cannot_be_attached() -> None:
    stored = announced_file(png(), FilePurpose.ARTICLE_IMAGE)
    with pytest.raises(FileStateError, match="is not ready"):
        stored.attach_to(ARTICLE, now=LATER)
    assert stored.article_id is None


def test_a_thumbnail_is_recorded_with_its_key() -> None:
    stored = ready_file(FilePurpose.AVATAR)
    stored.set_thumbnail(f"thumbnails/{FILE_ID}.webp", now=LATER)
    assert (stored.thumbnail_key, stored.updated_at) == (f"thumbnails/{FILE_ID}.webp", LATER)


READERS = {"owner": OWNER, "another user": OTHER, "anonymous": None}


def readers_of(stored: StoredFile, *, thumbnail: bool) -> set[str]:
    return {
        name for name, user in READERS.items() if stored.is_readable_by(user, thumbnail=thumbnail)
    }


@pytest.mark.parametrize(
    ("purpose", "attached", "thumbnail_readers"),
    [
        (FilePurpose.AVATAR, False, {"owner", "another user", "anonymous"}),
        (FilePurpose.ARTICLE_IMAGE, False, {"owner"}),
        (FilePurpose.ARTICLE_IMAGE, True, {"owner", "another user", "anonymous"}),
        (FilePurpose.ATTACHMENT, False, {"owner"}),
    ],
)
def test_only_the_owner_reads_an_original_and_the_public_reads_a_public_image_by_thumbnail(
    purpose: FilePurpose, attached: bool, thumbnail_readers: set[str]
) -> None:
    """A photo's metadata may hold where it was taken: its original is its owner's alone."""
    stored = ready_file(purpose)
    if attached:
        stored.attach_to(ARTICLE, now=LATER)
    assert readers_of(stored, thumbnail=False) == {"owner"}
    assert readers_of(stored, thumbnail=True) == thumbnail_readers


def test_a_detached_article_image_is_no_longer_public_even_by_thumbnail() -> None:
    stored = ready_file(FilePurpose.ARTICLE_IMAGE)
    stored.attach_to(ARTICLE, now=LATER)
    stored.detach(now=LATER + timedelta(minutes=1))
    assert readers_of(stored, thumbnail=True) == {"owner"}


@pytest.mark.parametrize("status", [FileStatus.PENDING, FileStatus.REJECTED, FileStatus.DELETED])
@pytest.mark.parametrize("purpose", list(FilePurpose))
def test_nobody_reads_a_file_that_is_not_ready(purpose: FilePurpose, status: FileStatus) -> None:
    stored = announced_file(png(), purpose)
    if status is FileStatus.REJECTED:
        stored.reject(now=LATER)
    elif status is FileStatus.DELETED:
        stored.delete(by=OWNER, now=LATER)
    assert stored.status is status
    assert readers_of(stored, thumbnail=False) == set()
    assert readers_of(stored, thumbnail=True) == set()


def test_a_deleted_attached_image_is_no_longer_public_to_read() -> None:
    stored = ready_file(FilePurpose.ARTICLE_IMAGE)
    stored.attach_to(ARTICLE, now=NOW)
    stored.delete(by=OWNER, now=LATER)
    assert readers_of(stored, thumbnail=False) == set()
    assert readers_of(stored, thumbnail=True) == set()


def test_inspected_digests_are_sha256() -> None:
    data = b"digest me"
    assert inspect([data]).sha256.value == hashlib.sha256(data).hexdigest()


def test_a_negative_size_is_refused_before_anything_counts_it() -> None:
    policy = UploadPolicy(
        max_bytes=dict.fromkeys(FilePurpose, 1024), quota_bytes=4096, max_image_pixels=100
    )
    with pytest.raises(DomainError) as refused:
        policy.check_size(FilePurpose.ATTACHMENT, -5)
    assert (refused.value.field, refused.value.message) == ("size", "must not be negative")
