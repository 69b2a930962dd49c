"""`synchub dashboard [--serve] [--port N] [--no-open]`: open the merchant dashboard last
built, or serve it on loopback. Builds nothing: the `merchant_dashboard` asset does (after
the marts, e.g. in `make demo` or `marts_job`).

Served, the page and plotly.js come from `<data>/dashboard/`, and the marts' CSV and XLSX
files it links from `<data>/marts/` under `/marts/`; nothing else of the data folder (the
warehouse file, the key) is reachable, and only on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import webbrowser
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from synchub_pipelines import settings
from synchub_pipelines.dashboard.location import dashboard_folder

DEFAULT_PORT = 8791  # beside the sandbox (8788) and the webhook receiver (8790)
LOOPBACK = "127.0.0.1"
INDEX = "index.html"  # as page.INDEX, without importing pandas and plotly here
BUILD_FILE = "build.json"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
HOW_TO_BUILD = (
    "It is built by the `merchant_dashboard` asset, after the marts: run `make demo` (the "
    "demo builds it), or materialize `marts_job` in the Dagster UI (`make ui`), or "
    "`dagster asset materialize -m synchub_pipelines.definitions --select merchant_dashboard` "
    "once the marts exist."
)


def register(subparsers: Any) -> None:
    """Add `dashboard` to the `synchub` command (`subparsers` of its parser)."""
    dashboard = subparsers.add_parser(
        "dashboard",
        help="open the merchant dashboard last built (or serve it on loopback)",
        description=(
            "Open the merchant dashboard the pipeline last built (<data>/dashboard/index.html) "
            "in a browser, or serve it on 127.0.0.1. Builds nothing. " + HOW_TO_BUILD
        ),
    )
    dashboard.add_argument(
        "--serve",
        action="store_true",
        help=f"serve it on http://{LOOPBACK}:PORT until Ctrl-C, instead of opening the file",
    )
    dashboard.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"the port to serve on with --serve (default {DEFAULT_PORT}; 0: any free port)",
    )
    dashboard.add_argument(
        "--no-open", action="store_true", help="only say where it is: open no browser"
    )
    dashboard.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    folder = dashboard_folder()
    index = folder / INDEX
    if not index.is_file():
        print(f"synchub dashboard: no dashboard was built yet ({index}).", file=sys.stderr)
        print(HOW_TO_BUILD, file=sys.stderr)
        return 1
    print(f"dashboard: {index}")
    print(f"           {index.resolve().as_uri()}")
    for line in describe_build(folder):
        print(line)
    if args.serve:
        return serve(folder, args.port, open_browser=not args.no_open)
    if not args.no_open and not webbrowser.open(index.resolve().as_uri()):
        print("no browser to open here: open the address above")
    return 0


def describe_build(folder: Path) -> list[str]:
    """When the page was built and which merchants have one (from build.json)."""
    try:
        build = json.loads((folder / BUILD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    lines = [f"built:     {build.get('built_at', '?')}"]
    pages = build.get("pages") or {}
    if len(pages) > 1:
        listed = ", ".join(f"{tenant} ({name})" for tenant, name in pages.items())
        lines.append(f"merchants: {listed}")
    return lines


class DashboardHandler(BaseHTTPRequestHandler):
    """GET/HEAD of the dashboard's own files, and of the marts' exports under /marts/."""

    server_version = "synchub-dashboard"

    def __init__(self, *args: Any, folder: Path, exports: Path, **kwargs: Any) -> None:
        self.folder = folder
        self.exports = exports
        super().__init__(*args, **kwargs)

    def resolve(self) -> Path | None:
        path = unquote(urlsplit(self.path).path)
        parts = [p for p in path.split("/") if p]
        if not parts:
            return self.folder / INDEX
        if len(parts) == 1:
            candidate = self.folder / parts[0]
        elif len(parts) == 2 and parts[0] == "marts":
            candidate = self.exports / parts[1]
            if candidate.suffix not in {".csv", ".xlsx"}:
                return None
        else:
            return None
        if candidate.name.startswith(".") or candidate.suffix not in CONTENT_TYPES:
            return None
        return candidate if candidate.is_file() else None

    def send(self, body: bool) -> None:
        found = self.resolve()
        if found is None:
            self.send_error(HTTPStatus.NOT_FOUND, "not a file of the dashboard")
            return
        content = found.read_bytes()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", CONTENT_TYPES[found.suffix])
        self.send_header("Content-Length", str(len(content)))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if body:
            self.wfile.write(content)

    def do_GET(self) -> None:
        self.send(body=True)

    def do_HEAD(self) -> None:
        self.send(body=False)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: one line per file
        pass


def make_server(folder: Path, port: int, exports: Path | None = None) -> ThreadingHTTPServer:
    """A server of the dashboard on loopback (port 0: a free one); not started."""
    handler = partial(
        DashboardHandler, folder=folder, exports=exports or settings.data_dir() / "marts"
    )
    return ThreadingHTTPServer((LOOPBACK, port), handler)


def serve(folder: Path, port: int, open_browser: bool = True) -> int:
    try:
        server = make_server(folder, port)
    except OSError as exc:
        print(
            f"synchub dashboard: cannot serve on {LOOPBACK}:{port} ({exc.strerror or exc}); "
            "choose another --port (0 picks a free one)",
            file=sys.stderr,
        )
        return 1
    url = f"http://{LOOPBACK}:{server.server_address[1]}/"
    print(f"serving:   {url}  (Ctrl-C to stop)", flush=True)
    if open_browser:
        threading.Timer(0.3, webbrowser.open, args=(url,)).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.server_close()
    return 0
