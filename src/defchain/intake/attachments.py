"""Attachments from the public: recognise the type by content, strip metadata.

Bytes in, ``Cleaned`` (content type and clean bytes) out, or ``AttachmentRefused`` with a
message naming the file. No session, no clock. The type comes from the file's first
bytes, never its name or the browser's declared type; images are decoded and re-encoded
(which drops EXIF, XMP, ICC profiles and comments, keeping the picture upright), and PDFs
are rewritten without their document information dictionary and XMP metadata.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, ImageSequence
from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject

from defchain.errors import ValidationFailed

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 5
# Decoded size guard against decompression bombs: about a 40-megapixel photo.
MAX_IMAGE_PIXELS = 40_000_000
MAX_PDF_PAGES = 500

JPEG, PNG, GIF, WEBP, PDF = "image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf"
ACCEPTED_TYPES = (JPEG, PNG, GIF, WEBP, PDF)
_PIL_FORMAT = {JPEG: "JPEG", PNG: "PNG", GIF: "GIF", WEBP: "WEBP"}


class AttachmentRefused(ValidationFailed):
    """An attachment is not an accepted type, is too large or cannot be read.

    ``template`` and ``params`` let a page translate the reason (the template is the
    gettext message id); ``reason`` is the English sentence.
    """

    def __init__(self, template: str, **params: object) -> None:
        self.template = template
        self.params = params
        self.reason = template % params if params else template
        super().__init__(f"attachments: {self.reason}", field="attachments")


@dataclass(frozen=True)
class Cleaned:
    """An accepted attachment: its type as recognised from content, and clean bytes."""

    content_type: str
    data: bytes


def sniff(data: bytes) -> str | None:
    """The accepted type the bytes really are, judged by their magic numbers, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data.startswith(b"%PDF-"):
        return PDF
    return None


def display_name(filename: str) -> str:
    """The file's name as shown back to the user and stored: no path, at most 200 chars."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable())
    return (name or "unnamed file")[:200]


def clean(filename: str, data: bytes) -> Cleaned:
    """Check one uploaded file and return it stripped of metadata.

    Raises ``AttachmentRefused`` naming the file when it is empty, over 10 MB, not a
    JPEG, PNG, GIF, WebP or PDF by content, or cannot be decoded.
    """
    name = display_name(filename)
    if not data:
        raise AttachmentRefused("'%(name)s' is empty.", name=name)
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise AttachmentRefused("'%(name)s' is larger than 10 MB.", name=name)
    kind = sniff(data)
    if kind is None:
        raise AttachmentRefused(
            "'%(name)s' is not a photo (JPEG, PNG, GIF, WebP) or a PDF, whatever its name says.",
            name=name,
        )
    if kind == PDF:
        return Cleaned(PDF, _clean_pdf(name, data))
    return Cleaned(kind, _clean_image(name, data, kind))


def _clean_image(name: str, data: bytes, kind: str) -> bytes:
    fmt = _PIL_FORMAT[kind]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as image:
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    raise AttachmentRefused("'%(name)s' has over 40 megapixels.", name=name)
                frames, timing = _clean_frames(image)
    except AttachmentRefused:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise AttachmentRefused("'%(name)s' could not be read as an image.", name=name) from exc
    except Image.DecompressionBombWarning as exc:
        raise AttachmentRefused("'%(name)s' has over 40 megapixels.", name=name) from exc
    out = io.BytesIO()
    first, rest = frames[0], frames[1:]
    options: dict[str, Any] = {}
    if fmt == "JPEG":
        first = first.convert("RGB")
        options = {"quality": 90, "optimize": True}
    elif rest and fmt in ("GIF", "WEBP"):
        options = {"save_all": True, "append_images": rest, **timing}
    first.save(out, format=fmt, **options)
    return out.getvalue()


def _clean_frames(image: Image.Image) -> tuple[list[Image.Image], dict[str, Any]]:
    """Every frame as new pixel data with no metadata; orientation applied."""
    frames: list[Image.Image] = []
    durations: list[int] = []
    for frame in ImageSequence.Iterator(image):
        upright = ImageOps.exif_transpose(frame) or frame
        mode = "RGBA" if _has_alpha(upright) else "RGB"
        pixels = upright.convert(mode)
        # A fresh image from raw pixels carries no info, EXIF, XMP, ICC or comment.
        frames.append(Image.frombytes(mode, pixels.size, pixels.tobytes()))
        durations.append(int(frame.info.get("duration", 100) or 100))
        if len(frames) >= 1000:
            break
    if not frames:
        raise ValueError("no frames")
    loop = image.info.get("loop", 0)
    return frames, {"duration": durations, "loop": loop if isinstance(loop, int) else 0}


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def _clean_pdf(name: str, data: bytes) -> bytes:
    # pypdf parses untrusted input and can fail in many ways (its own errors, but also
    # KeyError, TypeError, RecursionError on malformed files); every one of them means
    # "not a readable PDF", so they are all turned into the one refusal.
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise AttachmentRefused(
                "'%(name)s' is a password-protected PDF; remove the password.", name=name
            )
        if len(reader.pages) > MAX_PDF_PAGES:
            raise AttachmentRefused(
                "'%(name)s' has more than %(pages)s pages.", name=name, pages=MAX_PDF_PAGES
            )
        writer = PdfWriter(clone_from=reader)
        writer.metadata = None  # drops the document information dictionary (/Info)
        root = writer.root_object
        for key in ("/Metadata", "/PieceInfo"):
            if NameObject(key) in root:
                del root[NameObject(key)]
        for page in writer.pages:
            for key in ("/Metadata", "/PieceInfo"):
                if NameObject(key) in page:
                    del page[NameObject(key)]
        # Cloning copied every object: drop the ones nothing refers to any more (the old
        # information dictionary and XMP stream would otherwise stay in the file).
        writer.compress_identical_objects(remove_duplicates=False, remove_unreferenced=True)
        out = io.BytesIO()
        writer.write(out)
    except AttachmentRefused:
        raise
    except Exception as exc:
        raise AttachmentRefused("'%(name)s' could not be read as a PDF.", name=name) from exc
    return out.getvalue()
