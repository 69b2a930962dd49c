"""Scrub secrets out of anything an alert carries.

An alert quotes error messages, and an error can quote what it was given: a URL with a
password, a bearer token, a query string with an access token, or the value of a secret
setting itself. Every configured secret's value is replaced wherever it appears, then the
shapes secrets take are masked, so that a message leaving for Slack or a webhook never
carries one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

# Settings whose values are secrets, by name.
_SECRET_NAME = re.compile(r"(SECRET|PASSWORD|TOKEN|_KEY$|PARTNER_KEY|SALT)", re.IGNORECASE)
_SHAPES = (
    # scheme://user:password@host → scheme://user:***@host
    (re.compile(r"(\w+://[^/\s:@]+:)[^@\s/]+@"), r"\1***@"),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1***"),
    (
        re.compile(
            r"(?i)((?:access_token|refresh_token|client_secret|sign|signature|code|"
            r"password|api_key|token)=)[^&\s\"']+"
        ),
        r"\1***",
    ),
    (
        re.compile(
            r"(?i)(\"(?:access_token|refresh_token|client_secret|password)\"\s*:\s*\")[^\"]*"
        ),
        r"\1***",
    ),
)
_MIN_SECRET_LENGTH = 6


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    values = {
        value.strip()
        for name, value in env.items()
        if _SECRET_NAME.search(name) and len(value.strip()) >= _MIN_SECRET_LENGTH
    }
    # Longest first, so a secret that contains another is masked whole.
    return sorted(values, key=len, reverse=True)


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    for value in secret_values(environ):
        text = text.replace(value, "***")
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    return text
