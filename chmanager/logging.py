"""Route Python's standard logging (Django's included) into loguru, one sink on stderr."""
from __future__ import annotations

import logging
import sys

from loguru import logger


class InterceptHandler(logging.Handler):
    """Hands each standard-library record to loguru, keeping its level and origin."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame, depth = logging.currentframe(), 2
        while frame and frame.f_code.co_filename == logging.__file__:
            frame, depth = frame.f_back, depth + 1
        logger.opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())


def configure_logging(level: str) -> None:
    """One loguru sink at ``level``; standard logging records go through it too."""
    logger.remove()
    logger.add(sys.stderr, level=level.upper(),
               format="{time:YYYY-MM-DD HH:mm:ss.SSS} {level: <7} {name}: {message}")
    logging.basicConfig(handlers=[InterceptHandler()], level=0, force=True)
