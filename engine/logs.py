"""File logging: one log file in the log dir, readable by the user only, secrets redacted.

Nothing the engine logs reaches the terminal: without a log file (none set up, or it
cannot be created) records are dropped rather than printed by Python's last-resort
handler, and a log file that cannot be written (a full disk) is skipped in silence.
What a person needs to know is always said as a sentence by the front end.
"""

from __future__ import annotations

import logging
import os
from logging.handlers import RotatingFileHandler
from pathlib import Path

from engine.redact import redact

LOGGER_NAME = "scorechat"


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _LogFile(RotatingFileHandler):
    def handleError(self, record: logging.LogRecord) -> None:
        """A record that cannot be written is lost, not printed with a traceback."""


# Records with no log file to go to are dropped, never printed on the terminal.
logging.getLogger(LOGGER_NAME).addHandler(logging.NullHandler())


def setup_logging(log_dir: Path, level: int = logging.INFO) -> Path | None:
    """Log to ``log_dir/scorechat.log``; returns the path, or ``None`` if it cannot be written."""
    logger = logging.getLogger(LOGGER_NAME)
    target = (log_dir / "scorechat.log").absolute()
    for handler in list(logger.handlers):
        if getattr(handler, "_scorechat", False):
            if Path(getattr(handler, "baseFilename", "")) == target:
                return target
            # Another home (a test, or a second app in one process): log there instead.
            logger.removeHandler(handler)
            handler.close()
    try:
        log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = log_dir / "scorechat.log"
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        handler = _LogFile(path, maxBytes=2_000_000, backupCount=2, encoding="utf-8")
    except OSError:
        return None
    handler._scorechat = True  # type: ignore[attr-defined]
    handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    return path


def get_logger(name: str = "") -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if name else LOGGER_NAME)
