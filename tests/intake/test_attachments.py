"""Attachments: the type from content, never the name; metadata stripped; clear refusals."""

from __future__ import annotations

import io
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DecodedStreamObject, NameObject

from defchain.intake import attachments
from defchain.intake.attachments import AttachmentRefused, clean, display_name, sniff

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def photo_exif(orientation: int = 1) -> bytes:
    """EXIF with a camera make, an orientation and a GPS position."""
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Inc"
    exif[ORIENTATION] = orientation
    exif[GPS_IFD] = {1: "N", 2: (40.0, 26.0, 46.0), 3: "W", 4: (79.0, 58.0, 56.0)}
    return exif.tobytes()


def jpeg_with_gps(size: tuple[int, int] = (40, 20), orientation: int = 1) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "red").save(
        out, "JPEG", exif=photo_exif(orientation), comment=b"taken by Jane"
    )
    return out.getvalue()


def pdf_with_metadata() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_metadata({"/Author": "Jane Tipster", "/Title": "My notes"})
    # pypdf has no public "add an XMP stream": its own private helper does it.
    writer.root_object[NameObject("/Metadata")] = writer._add_object(xmp_stream())
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def xmp_stream() -> DecodedStreamObject:
    stream = DecodedStreamObject()
    stream.set_data(b"<x:xmpmeta><dc:creator>Jane Tipster</dc:creator></x:xmpmeta>")
    stream[NameObject("/Type")] = NameObject("/Metadata")
    stream[NameObject("/Subtype")] = NameObject("/XML")
    return stream


def test_sniff_recognises_each_accepted_type_by_its_first_bytes() -> None:
    out = io.BytesIO()
    Image.new("RGB", (2, 2)).save(out, "PNG")
    assert sniff(out.getvalue()) == "image/png"
    assert sniff(jpeg_with_gps()) == "image/jpeg"
    assert sniff(b"GIF89a....") == "image/gif"
    assert sniff(b"RIFF\x10\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff(b"%PDF-1.7\n") == "application/pdf"
    assert sniff(b"MZ\x90\x00") is None  # a Windows executable
    assert sniff(b"PK\x03\x04") is None  # a zip


def test_jpeg_loses_exif_gps_and_comment_but_stays_upright() -> None:
    raw = jpeg_with_gps(size=(40, 20), orientation=6)  # 6: rotate 90° to display
    assert Image.open(io.BytesIO(raw)).getexif()[GPS_IFD]  # the input really has GPS
    result = clean("holiday.jpg", raw)
    assert result.content_type == "image/jpeg"
    image = Image.open(io.BytesIO(result.data))
    assert dict(image.getexif()) == {}
    assert "exif" not in image.info and "comment" not in image.info
    assert image.size == (20, 40)  # the orientation was applied to the pixels
    assert b"SpyCam" not in result.data and b"Jane" not in result.data


def test_png_loses_text_chunks_exif_and_icc_profile() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Tipster")
    out = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 0, 255, 128)).save(
        out, "PNG", pnginfo=info, exif=photo_exif(), icc_profile=b"fake-icc-profile-bytes"
    )
    result = clean("screen.png", out.getvalue())
    image = Image.open(io.BytesIO(result.data))
    assert result.content_type == "image/png"
    assert image.mode == "RGBA"  # transparency is kept
    assert dict(image.getexif()) == {}
    assert not {"Author", "icc_profile", "exif"} & set(image.info)
    assert b"Jane" not in result.data


def test_gif_and_webp_are_re_encoded_without_metadata() -> None:
    gif = io.BytesIO()
    frames = [Image.new("RGB", (6, 6), color) for color in ("red", "green", "blue")]
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], comment=b"Jane")
    cleaned_gif = clean("a.gif", gif.getvalue())
    image = Image.open(io.BytesIO(cleaned_gif.data))
    assert cleaned_gif.content_type == "image/gif"
    assert image.n_frames == 3 and "comment" not in image.info

    webp = io.BytesIO()
    Image.new("RGB", (6, 6), "red").save(webp, "WEBP", exif=photo_exif())
    cleaned_webp = clean("a.webp", webp.getvalue())
    assert cleaned_webp.content_type == "image/webp"
    assert dict(Image.open(io.BytesIO(cleaned_webp.data)).getexif()) == {}


def test_pdf_loses_document_info_and_xmp_metadata() -> None:
    raw = pdf_with_metadata()
    assert PdfReader(io.BytesIO(raw)).metadata["/Author"] == "Jane Tipster"
    result = clean("notes.pdf", raw)
    assert result.content_type == "application/pdf"
    reader = PdfReader(io.BytesIO(result.data))
    assert reader.metadata is None or "/Author" not in reader.metadata
    assert "/Metadata" not in reader.trailer["/Root"]
    assert len(reader.pages) == 1
    assert b"Jane Tipster" not in result.data


def test_a_file_named_jpg_that_is_an_executable_or_zip_is_refused_by_name() -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("payload.exe", b"MZ" + b"\x00" * 100)
    for data in (b"MZ\x90\x00\x03" + b"\x00" * 200, archive.getvalue()):
        with pytest.raises(AttachmentRefused) as info:
            clean("cute-cat.jpg", data)
        assert "'cute-cat.jpg'" in info.value.reason
        assert info.value.field == "attachments"


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "is empty"),
        (b"\xff\xd8\xff\xe0 truncated jpeg", "could not be read as an image"),
        (b"%PDF-1.4\n garbage", "could not be read as a PDF"),
    ],
)
def test_broken_files_are_refused_with_a_reason(data: bytes, why: str) -> None:
    with pytest.raises(AttachmentRefused) as info:
        clean("file.bin", data)
    assert why in info.value.reason and "'file.bin'" in info.value.reason


def test_files_over_10_mb_are_refused_before_decoding() -> None:
    data = jpeg_with_gps() + b"\x00" * (attachments.MAX_ATTACHMENT_BYTES)
    with pytest.raises(AttachmentRefused) as info:
        clean("big.jpg", data)
    assert "larger than 10 MB" in info.value.reason


def test_password_protected_pdf_is_refused() -> None:
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(AttachmentRefused) as info:
        clean("locked.pdf", out.getvalue())
    assert "password-protected" in info.value.reason


def test_huge_pixel_counts_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attachments, "MAX_IMAGE_PIXELS", 100)
    out = io.BytesIO()
    Image.new("RGB", (20, 20)).save(out, "PNG")
    with pytest.raises(AttachmentRefused) as info:
        clean("bomb.png", out.getvalue())
    assert "40 megapixels" in info.value.reason


def test_display_name_drops_paths_and_control_characters() -> None:
    assert display_name("C:\\Users\\jane\\Desktop\\threat.png") == "threat.png"
    assert display_name("../../etc/passwd") == "passwd"
    assert display_name("a\x00b\nc.pdf") == "abc.pdf"
    assert display_name("") == "unnamed file"
    assert len(display_name("x" * 500)) == 200


MAGIC = st.sampled_from(
    [b"", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBP", b"%PDF-1."]
)


@settings(max_examples=300, deadline=None)
@given(prefix=MAGIC, body=st.binary(max_size=2048))
def test_random_bytes_never_crash_the_cleaner(prefix: bytes, body: bytes) -> None:
    """Whatever arrives is either refused with a message or accepted as a known type."""
    data = prefix + body
    try:
        result = clean("random.bin", data)
    except AttachmentRefused as refused:
        assert refused.reason and "'random.bin'" in refused.reason
    else:
        assert result.content_type in attachments.ACCEPTED_TYPES
        assert sniff(result.data) == result.content_type
