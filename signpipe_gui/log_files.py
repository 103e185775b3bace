"""Where signpipe's log lines go besides the terminal, and how they look."""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def add_log_file(path: Path, *, max_bytes: int = 0) -> logging.FileHandler:
    """Send every log line to ``path`` as well; with ``max_bytes``, rotate there.

    Only one process may rotate a file; the others append (``max_bytes=0``) and,
    when it is rotated under them, go on in the renamed file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handler: logging.FileHandler
    if max_bytes:
        handler = RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=1, encoding="utf-8"
        )
    else:
        handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logging.getLogger().addHandler(handler)
    return handler
