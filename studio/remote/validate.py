"""Every reply from a server is checked here before Studio uses it, so a broken or hostile server
cannot crash the app, exhaust its memory, or name a local path.

- JSON: parsed with a size limit, then its shape checked for what Studio reads (`BadReply` with the
  endpoint named when it is not ComfyUI's).
- Images: at most `MAX_IMAGE_BYTES` bytes and `MAX_IMAGE_PIXELS` pixels, the size read from the header
  before any pixel is decoded; PNG or JPEG (WebP for previews) only.
- File names from the server are only ever sent back to it (as `/view` query values), never used as
  local paths; they are checked to be short, printable text.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image

from studio.core.jsontext import parse_json
from studio.remote.errors import BadReply

MAX_JSON_BYTES = 32 * 1024 * 1024  # /object_info of a server with many custom nodes is a few MB
MAX_IMAGE_BYTES = 64 * 1024 * 1024
MAX_IMAGE_PIXELS = 64 * 1024 * 1024
MAX_NAME_LENGTH = 1024
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP")

JSONDict = dict[str, Any]


def json_reply(body: bytes, what: str) -> Any:
    """`body` parsed as JSON; `what` names the endpoint in the message."""
    if len(body) > MAX_JSON_BYTES:
        raise BadReply(f"The server's answer to {what} is {len(body) // 1024 // 1024} MB; Studio refuses it.")
    try:
        return parse_json(body.decode("utf-8"))  # too deeply nested: a ValueError too
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadReply(
            f"The server's answer to {what} is not valid JSON ({exc}); is this a ComfyUI server?"
        ) from exc


def json_object(value: Any, what: str) -> JSONDict:
    if not isinstance(value, dict):
        raise BadReply(f"The server's answer to {what} is not a JSON object; is this a ComfyUI server?")
    return value


def _field(obj: JSONDict, key: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind in (int, float, (int, float)):
        raise BadReply(f"The server's answer to {what} has no valid {key!r}; is this a ComfyUI server?")
    return value


def server_name(value: Any, what: str) -> str:
    """A file or folder name as the server gave it: short printable text (never a local path)."""
    if not isinstance(value, str) or len(value) > MAX_NAME_LENGTH or not value.isprintable():
        raise BadReply(f"The server's answer to {what} has an invalid file name.")
    return value


# ---- endpoints ----------------------------------------------------------------------------------


def system_stats(value: Any) -> JSONDict:
    """/system_stats: {"system": {...}, "devices": [...]}."""
    what = "/system_stats"
    stats = json_object(value, what)
    _field(stats, "system", dict, what)
    devices = _field(stats, "devices", list, what)
    if not all(isinstance(d, dict) for d in devices):
        raise BadReply(f"The server's answer to {what} lists devices that are not objects.")
    return stats


def free_vram(stats: JSONDict) -> int:
    """Free memory of the server's first device in bytes (0 when it does not say)."""
    for device in stats.get("devices", []):
        free = device.get("vram_free") if isinstance(device, dict) else None
        if isinstance(free, (int, float)) and not isinstance(free, bool):
            return int(free)
    return 0


def queue_length(value: Any) -> int:
    """/queue: {"queue_running": [...], "queue_pending": [...]} -> how many prompts it holds."""
    what = "/queue"
    queue = json_object(value, what)
    running = _field(queue, "queue_running", list, what)
    pending = _field(queue, "queue_pending", list, what)
    return len(running) + len(pending)


def queued_prompt_ids(value: Any) -> set[str]:
    """/queue -> the ids of the prompts waiting (not running)."""
    what = "/queue"
    pending = _field(json_object(value, what), "queue_pending", list, what)
    return {
        item[1] for item in pending if isinstance(item, list) and len(item) > 1 and isinstance(item[1], str)
    }


def model_names(value: Any, what: str) -> list[str]:
    """/models/checkpoints: a list of names."""
    if not isinstance(value, list):
        raise BadReply(f"The server's answer to {what} is not a list of models.")
    return [server_name(name, what) for name in value]


def node_choices(value: Any, node: str, inp: str) -> list[str] | None:
    """From /object_info[/node]: the choices of a node's required combo input (None if not listed)."""
    info = value.get(node) if isinstance(value, dict) else None
    required = info.get("input", {}).get("required", {}) if isinstance(info, dict) else {}
    spec = required.get(inp) if isinstance(required, dict) else None
    if not isinstance(spec, list) or not spec:
        return None
    choices = spec[0]
    if isinstance(choices, str) and choices == "COMBO" and len(spec) > 1 and isinstance(spec[1], dict):
        choices = spec[1].get("options")  # the newer combo form: ["COMBO", {"options": [...]}]
    if not isinstance(choices, list):
        return None
    return [c for c in choices if isinstance(c, str)]


@dataclass(frozen=True)
class FileRef:
    """A file on the server (an upload or a result): names to send back, never local paths."""

    filename: str
    subfolder: str = ""
    type: str = "output"

    def query(self) -> dict[str, str]:
        return {"filename": self.filename, "subfolder": self.subfolder, "type": self.type}


def file_ref(value: Any, what: str) -> FileRef:
    """An upload reply or a result entry: {"name"|"filename": ..., "subfolder": ..., "type": ...}."""
    obj = json_object(value, what)
    name = obj.get("filename", obj.get("name"))
    kind = obj.get("type", "output")
    if kind not in ("input", "output", "temp"):
        raise BadReply(f"The server's answer to {what} names an unknown folder type.")
    filename = server_name(name, what)
    if not filename:
        raise BadReply(f"The server's answer to {what} has an empty file name.")
    return FileRef(filename, server_name(obj.get("subfolder", ""), what), kind)


def prompt_id(value: Any) -> str:
    """POST /prompt: {"prompt_id": ..., "number": ..., "node_errors": {...}}."""
    what = "POST /prompt"
    return server_name(_field(json_object(value, what), "prompt_id", str, what), what)


def history_outputs(value: Any, prompt: str) -> dict[str, list[FileRef]]:
    """/history/{id} -> {node id: [image files]} of that prompt ({} while it is not finished)."""
    what = f"/history/{prompt}"
    history = json_object(value, what)
    entry = history.get(prompt)
    if entry is None:
        return {}
    outputs = _field(json_object(entry, what), "outputs", dict, what)
    found: dict[str, list[FileRef]] = {}
    for node, output in outputs.items():
        images = output.get("images", []) if isinstance(output, dict) else None
        if not isinstance(images, list):
            raise BadReply(f"The server's answer to {what} lists images that are not a list.")
        found[str(node)] = [file_ref(image, what) for image in images]
    return found


def ws_message(text: str) -> tuple[str, JSONDict]:
    """A WebSocket text frame: {"type": ..., "data": {...}} -> (type, data)."""
    what = "the WebSocket"
    message = json_object(json_reply(text.encode("utf-8"), what), what)
    kind = _field(message, "type", str, what)
    data = message.get("data", {})
    return kind, data if isinstance(data, dict) else {}


# ---- images -------------------------------------------------------------------------------------


def decode_image(
    data: bytes, what: str, formats: tuple[str, ...] = IMAGE_FORMATS, *, draft: tuple[int, int] | None = None
) -> Image.Image:
    """`data` as a loaded RGB image, within the size limits; BadReply otherwise. `draft`: a JPEG may
    be decoded at a reduced scale, no smaller than this size."""
    if len(data) > MAX_IMAGE_BYTES:
        raise BadReply(
            f"The image from {what} is {len(data) / 2**20:.0f} MB; Studio accepts at most "
            f"{MAX_IMAGE_BYTES // 2**20} MB."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(formats))
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise BadReply(
                    f"The image from {what} is {width}x{height} pixels; Studio accepts at most "
                    f"{MAX_IMAGE_PIXELS // 2**20} megapixels."
                )
            if draft is not None:
                image.draft("RGB", draft)
            image.load()
    except BadReply:
        raise
    except Exception as exc:  # Pillow raises many kinds for broken data
        raise BadReply(f"The image from {what} could not be read ({exc}).") from exc
    return image.convert("RGB")
