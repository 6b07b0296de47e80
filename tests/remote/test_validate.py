"""Server replies are checked before use: malformed JSON, wrong shapes, oversized images, odd names."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from studio.remote import client, validate
from studio.remote.errors import BadReply


def _png(size: tuple[int, int], mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("body", [b"<html>not json</html>", b'{"a": ', b"\xff\xfe", b"", b"[" * 50_000])
def test_malformed_json_is_a_bad_reply_naming_the_endpoint(body: bytes) -> None:
    with pytest.raises(BadReply, match="/queue.*not valid JSON"):
        validate.json_reply(body, "/queue")


def test_oversized_json_is_refused_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validate, "MAX_JSON_BYTES", 10)
    with pytest.raises(BadReply, match="refuses"):
        validate.json_reply(b'{"queue_running": []}', "/queue")


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (validate.queue_length, []),
        (validate.queue_length, {"queue_running": []}),
        (validate.queue_length, {"queue_running": "x", "queue_pending": []}),
        (validate.system_stats, {"system": {}, "devices": ["gpu"]}),
        (validate.system_stats, {"devices": []}),
        (validate.prompt_id, {"prompt_id": 5}),
        (validate.prompt_id, {"number": 1}),
        (lambda v: validate.model_names(v, "/models/checkpoints"), {"a": 1}),
        (lambda v: validate.model_names(v, "/models/checkpoints"), ["ok.safetensors", 3]),
        (lambda v: validate.file_ref(v, "/upload/image"), {"name": "", "type": "input"}),
        (lambda v: validate.file_ref(v, "/upload/image"), {"name": "a.png", "type": "../../etc"}),
        (lambda v: validate.file_ref(v, "/upload/image"), {"name": "a\nb.png"}),
        (lambda v: validate.file_ref(v, "/upload/image"), {"name": "x" * 5000}),
        (lambda v: validate.history_outputs(v, "p1"), {"p1": {"outputs": []}}),
        (lambda v: validate.history_outputs(v, "p1"), {"p1": {"outputs": {"9": {"images": "a.png"}}}}),
    ],
)
def test_replies_of_the_wrong_shape_are_bad_replies(check, value) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadReply):
        check(value)


def test_well_formed_replies_are_read() -> None:
    assert validate.queue_length({"queue_running": [[1, "a"]], "queue_pending": [[2, "b"], [3, "c"]]}) == 3
    assert validate.queued_prompt_ids({"queue_running": [], "queue_pending": [[2, "b"], "junk"]}) == {"b"}
    stats = validate.system_stats({"system": {"os": "linux"}, "devices": [{"vram_free": 5.0e9}]})
    assert validate.free_vram(stats) == 5_000_000_000
    ref = validate.file_ref({"name": "studio-1.png", "subfolder": "", "type": "input"}, "/upload/image")
    assert ref.query() == {"filename": "studio-1.png", "subfolder": "", "type": "input"}
    outputs = validate.history_outputs(
        {"p1": {"outputs": {"out_0": {"images": [{"filename": "a.png", "subfolder": "", "type": "temp"}]}}}},
        "p1",
    )
    assert outputs == {"out_0": [validate.FileRef("a.png", "", "temp")]}
    assert validate.history_outputs({}, "p1") == {}  # not finished yet


def test_node_choices_reads_both_combo_forms() -> None:
    old = {"KSampler": {"input": {"required": {"sampler_name": [["euler", "heun"]]}}}}
    new = {"KSampler": {"input": {"required": {"sampler_name": ["COMBO", {"options": ["euler"]}]}}}}
    assert validate.node_choices(old, "KSampler", "sampler_name") == ["euler", "heun"]
    assert validate.node_choices(new, "KSampler", "sampler_name") == ["euler"]
    assert validate.node_choices({}, "KSampler", "sampler_name") is None


def test_images_are_decoded_within_the_limits() -> None:
    image = validate.decode_image(_png((64, 48)), "/view")
    assert image.size == (64, 48) and image.mode == "RGB"


def test_an_image_with_too_many_bytes_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _png((64, 64))
    monkeypatch.setattr(validate, "MAX_IMAGE_BYTES", len(data) - 1)
    with pytest.raises(BadReply, match="at most"):
        validate.decode_image(data, "/view")


def test_an_image_with_too_many_pixels_is_refused_before_decoding() -> None:
    bomb = _png((9000, 8000), "1")  # 72 megapixels in a few kB
    assert len(bomb) < 100_000
    with pytest.raises(BadReply, match="9000x8000 pixels"):
        validate.decode_image(bomb, "/view")


@pytest.mark.parametrize("data", [b"not an image", b"\x89PNG\r\n\x1a\n broken", _png((8, 8))[:40]])
def test_broken_image_data_is_a_bad_reply(data: bytes) -> None:
    with pytest.raises(BadReply, match="could not be read"):
        validate.decode_image(data, "/view")


def test_an_image_in_another_format_is_refused() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="BMP")
    with pytest.raises(BadReply):
        validate.decode_image(buffer.getvalue(), "/view")


def test_websocket_messages_are_checked() -> None:
    assert validate.ws_message('{"type": "progress", "data": {"value": 1}}') == ("progress", {"value": 1})
    assert validate.ws_message('{"type": "status"}') == ("status", {})
    for text in ("[1]", '{"data": {}}', "garbage"):
        with pytest.raises(BadReply):
            validate.ws_message(text)


def test_binary_preview_frames() -> None:
    jpeg = io.BytesIO()
    Image.new("RGB", (16, 8), (10, 200, 30)).save(jpeg, format="JPEG")
    preview = client._preview(struct.pack(">II", 1, 1) + jpeg.getvalue(), "s")
    assert preview is not None and preview.image().size == (16, 8)
    assert client._preview(struct.pack(">II", 3, 0) + b"text", "s") is None  # other binary events: ignored
    with pytest.raises(BadReply, match="too short"):
        client._preview(b"\x00\x00", "s")
    with pytest.raises(BadReply, match="unknown format"):
        client._preview(struct.pack(">II", 1, 9) + jpeg.getvalue(), "s")
    mislabelled = client._preview(struct.pack(">II", 1, 1) + _png((8, 8)), "s")  # says JPEG, is PNG
    assert mislabelled is not None
    with pytest.raises(BadReply):  # only the format it names is accepted
        mislabelled.image()


def test_large_jpeg_previews_are_decoded_at_a_reduced_scale_no_smaller_than_asked() -> None:
    jpeg = io.BytesIO()
    Image.new("RGB", (512, 256), (10, 200, 30)).save(jpeg, format="JPEG")
    preview = client._preview(struct.pack(">II", 1, 1) + jpeg.getvalue(), "s")
    assert preview is not None
    assert preview.image((64, 32)).size == (64, 32)  # 1/8 scale: the latents of a 512x256 job
    assert preview.image((100, 40)).size == (128, 64)  # the smallest scale at least that large
    assert preview.image().size == (512, 256)


def test_an_oversized_websocket_frame_is_refused_before_it_is_read() -> None:
    import websocket

    header = bytes([0x82, 0x7F]) + struct.pack("!Q", 2**40)  # a binary frame of 1 TB
    frames = client._LimitedFrames(websocket._abnf.frame_buffer(io.BytesIO(header).read, True))
    with pytest.raises(websocket.WebSocketProtocolException, match="at most 64 MB"):
        frames.recv_frame()
