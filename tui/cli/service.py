"""``scorechat worker``: the service mode (Celery, an optional extra)."""

from __future__ import annotations

#: Top-level commands of this group.
COMMANDS: dict[str, object] = {}
