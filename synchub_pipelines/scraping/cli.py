"""`synchub scrape extract`: one page's canonical offer as JSON, through the pipeline's code.

`synchub scrape extract URL` fetches the page with the polite fetcher (robots.txt read
first, a disallowed URL is refused, not fetched); `--html FILE --url URL` reads a saved page
instead. Either way the page goes through `extract_offer`, with the recipe of the target
the URL belongs to (or `--site`'s) from the targets file.

Exit codes: 0 an offer (printed as JSON on stdout, money as strings); 1 no offer, not found
or a fetch error; 3 blocked (login wall, CAPTCHA, bot wall); 4 disallowed by robots.txt;
5 the targets file or the arguments are wrong. The reason goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from urllib.parse import urlsplit

from synchub_pipelines.scraping.crawl import fetch_page
from synchub_pipelines.scraping.extract import extract_offer
from synchub_pipelines.scraping.fetch import PoliteFetcher, utc_now
from synchub_pipelines.scraping.offer import Offer
from synchub_pipelines.scraping.targets import (
    ScrapeTarget,
    TargetsError,
    default_targets_path,
    load_targets,
    target_for_url,
)

EXIT_NO_OFFER = 1
EXIT_BLOCKED = 3
EXIT_DISALLOWED = 4
EXIT_CONFIG = 5


def add_extract_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n\n")[1] if __doc__ else None
    parser.add_argument("url", nargs="?", help="the product page to fetch (robots.txt obeyed)")
    parser.add_argument("--html", type=Path, help="a saved page to read instead of fetching")
    parser.add_argument("--url", dest="page_url", help="the saved page's URL (with --html)")
    parser.add_argument(
        "--content-type",
        help="the saved page's Content-Type header, when its charset is known (with --html)",
    )
    parser.add_argument("--site", help="the target whose recipe applies (default: by URL)")
    parser.add_argument(
        "--targets",
        type=Path,
        help="the targets file (default: $SYNCHUB_SCRAPE_TARGETS or the shipped one)",
    )
    parser.add_argument(
        "--delay", type=float, default=None, help="seconds between requests (default: the target's)"
    )


def _target(args: argparse.Namespace, url: str) -> tuple[str, ScrapeTarget | None]:
    path = args.targets or default_targets_path()
    targets = load_targets(path)
    if args.site:
        target = next((t for t in targets if t.site == args.site), None)
        if target is None:
            known = ", ".join(t.site for t in targets) or "none"
            raise TargetsError(f"{path}: no site {args.site!r} (sites: {known})")
        return target.site, target
    target = target_for_url(targets, url)
    if target is not None:
        return target.site, target
    return (urlsplit(url).hostname or "unknown").lower(), None


def run_extract(args: argparse.Namespace) -> int:
    url = args.page_url or args.url
    if not url:
        print("give a URL (or --html FILE --url URL)", file=sys.stderr)
        return EXIT_CONFIG
    if args.html and not args.page_url:
        print("--html needs --url: the page's address (links and images are relative to it)",
              file=sys.stderr)  # fmt: skip
        return EXIT_CONFIG
    try:
        site, target = _target(args, url)
    except TargetsError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    recipe = target.recipe if target else None
    if args.html:
        try:
            body = args.html.read_bytes()
        except OSError as exc:
            print(f"{args.html}: {exc.strerror}", file=sys.stderr)
            return EXIT_CONFIG
        read = extract_offer(
            body, url, site=site, recipe=recipe, content_type=args.content_type,
            fetched_at=utc_now(),
        )  # fmt: skip
        if isinstance(read, Offer):
            return _print_offer(read)
        print(f"{read.outcome}: {read.reason}", file=sys.stderr)
        return EXIT_BLOCKED if read.outcome == "blocked" else EXIT_NO_OFFER
    delay = args.delay if args.delay is not None else (target.delay_seconds if target else 5.0)
    with PoliteFetcher(delay_seconds=delay) as fetcher:
        page = fetch_page(url, site=site, recipe=recipe, fetcher=fetcher)
    if page.offer is not None:
        return _print_offer(page.offer)
    status = f" (HTTP {page.status})" if page.status is not None else ""
    print(f"{page.outcome}{status}: {page.reason}", file=sys.stderr)
    if page.outcome == "blocked":
        return EXIT_BLOCKED
    if page.outcome == "disallowed":
        return EXIT_DISALLOWED
    return EXIT_NO_OFFER


def _print_offer(offer: Offer) -> int:
    # JSON mode turns Decimals into strings: "1299.90" stays exactly that.
    print(json.dumps(offer.model_dump(mode="json"), ensure_ascii=False, indent=2))
    return 0
