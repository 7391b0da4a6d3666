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
