"""The sandbox's picture host: `GET /_sandbox/pictures/<name>` answers a real picture.

Shopee and TikTok Shop take a listing's pictures as uploaded bytes, so a publishing client
downloads every catalog picture first. The demo and the tests run offline: the catalog's
https picture URLs (a CDN) cannot be fetched, so publishing fetches them from a mirror
(SYNCHUB_PICTURE_MIRROR, docs/publishing.md) that points here.

Any name is served, shared by every marketplace: `<anything>-<W>x<H>.<ext>` is a picture of
that size, any other name is 800×800 (within every marketplace's limits). The bytes are
always a PNG, whatever the extension (as CDNs that convert formats do): the marketplaces'
upload calls look at the bytes, not the name. A name starting with `missing` answers 404,
so a test can make a picture unreadable. Each name gets its own colour.
"""

from __future__ import annotations

import re
import struct
import zlib

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DEFAULT_SIZE = 800
MAX_SIDE = 5000
_SIZE = re.compile(r"-(\d{1,4})x(\d{1,4})\.[A-Za-z0-9]+$")


def picture(name: str, width: int, height: int) -> bytes:
    """A real RGB PNG of that size, one flat colour derived from the name."""
    seed = zlib.crc32(name.encode("utf-8"))
    # Mid-range channels: never white (some shops refuse blank pictures) nor black.
    colour = bytes(64 + (seed >> shift) % 160 for shift in (0, 8, 16))
    compressor = zlib.compressobj(9)
    row = b"\x00" + colour * width
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def size_of(name: str) -> tuple[int, int] | None:
    """The picture's size the name asks for; None when it asks for an impossible one."""
    match = _SIZE.search(name)
    if match is None:
        return DEFAULT_SIZE, DEFAULT_SIZE
    width, height = int(match.group(1)), int(match.group(2))
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        return None
    return width, height


async def serve_picture(request: Request) -> Response:
    name = str(request.path_params["name"]).rsplit("/", 1)[-1]
    size = size_of(name)
    if not name or name.startswith("missing") or size is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(
        picture(name, *size),
        media_type="image/png",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def routes() -> list[Route]:
    return [Route("/_sandbox/pictures/{name:path}", serve_picture, methods=["GET"])]
