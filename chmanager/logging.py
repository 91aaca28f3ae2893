"""Route Python's standard logging (Django's included) into loguru, one sink on stdout."""
from __future__ import annotations

import inspect
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
        # Name the code that called the standard logger, not the logging module's own frames.
        frame, depth = inspect.currentframe(), 0
        while frame and (depth == 0 or frame.f_code.co_filename == logging.__file__):
            frame, depth = frame.f_back, depth + 1
        logger.opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())


def configure_logging(level: str) -> None:
    """One loguru sink on stdout at ``level`` (TRACE, DEBUG, INFO, WARNING, ERROR); standard
    logging records go through it too. Raises ValueError for an unknown level name."""
    logger.remove()
    logger.add(sys.stdout, level=level.upper(),
               format="{time:YYYY-MM-DD HH:mm:ss.SSS} {level: <7} {name}: {message}")
    logging.basicConfig(handlers=[InterceptHandler()], level=0, force=True)
    # chmanager.request_log writes the one line per request; runserver's own would repeat it.
    logging.getLogger("django.server").setLevel(logging.WARNING)
