"""Keeps API keys out of everything scorechat writes: logs, exports, JSON output."""

from __future__ import annotations

import os
import re

_KEY_PATTERN = re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}")
#: ``scheme://user:password@host``: the user info of any URL (hosts, broker and database URLs).
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)[^/\s@:]*(?::[^/\s@]*)?@")
SECRET_ENV_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "OLLAMA_API_KEY")


def redact(text: str) -> str:
    """``text`` with any known secret value or Anthropic-style key replaced."""
    for name in SECRET_ENV_VARS:
        value = os.environ.get(name)
        if value and len(value) >= 8 and value in text:
            text = text.replace(value, "[redacted]")
    text = _KEY_PATTERN.sub("[redacted]", text)
    return _URL_USERINFO.sub(r"\g<scheme>[redacted]@", text)


def hide_password(url: str) -> str:
    """A URL as it may be shown: the user kept, the password (if any) replaced by ``***``;
    anything that is not a URL with user information goes through ``redact``."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url)
    if parts.password is None:
        return redact(url) if "@" in parts.netloc and not parts.username else url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
