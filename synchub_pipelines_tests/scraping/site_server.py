"""A small loopback web site for the fetcher's tests: routes, a request log, nothing shared
with the scraper (pages are written here by hand)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Handler = Callable[[dict[str, str]], tuple[int, dict[str, str], bytes]]


@dataclass(frozen=True)
class Hit:
    path: str
    headers: dict[str, str]
    mono: float


def product_html(
    name: str, price: str, *, gtin: str | None = None, stock: str = "InStock"
) -> bytes:
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": name,
        "offers": {
            "@type": "Offer",
            "price": price,
            "priceCurrency": "BRL",
            "availability": f"https://schema.org/{stock}",
        },
    }
    if gtin:
        data["gtin13"] = gtin
    return (
        f'<html><head><script type="application/ld+json">{json.dumps(data)}</script></head>'
        f"<body><h1>{name}</h1></body></html>"
    ).encode()


def page(status: int = 200, body: bytes = b"", **headers: str) -> Handler:
    fixed = {
        "Content-Type": "text/html; charset=utf-8",
        **{k.replace("_", "-"): v for k, v in headers.items()},
    }
    return lambda _request: (status, fixed, body)


class Site:
    """Routes by path (with query) → handler; unknown paths answer 404."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        site = self

        class Handle(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with site._lock:
                    site.hits.append(
                        Hit(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            time.monotonic(),
                        )
                    )
                handler = site.routes.get(self.path)
                status, headers, body = (
                    handler(dict(self.headers)) if handler else (404, {}, b"not found")
                )
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Site:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        return self.base + path

    def paths(self) -> list[str]:
        return [hit.path for hit in self.hits]
