"""Route Python's standard logging (Django's included) into loguru, one sink on stdout."""
from __future__ import annotations

import logging
import sys

from loguru import logger


class InterceptHandler(logging.Handler):
    """Hands each standard-library record to loguru, keeping its level and logger name."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        # The standard logger's name ("django.request") says more than the module that called it.
        logger.patch(lambda entry: entry.update(name=record.name)).opt(
            exception=record.exc_info).log(level, record.getMessage())


def configure_logging(level: str) -> None:
    """One loguru sink on stdout at ``level`` (TRACE, DEBUG, INFO, WARNING, ERROR); standard
    logging records go through it too. Raises ValueError for an unknown level name."""
    try:
        number = logger.level(level.upper()).no
    except ValueError:
        raise ValueError(f"LOG_LEVEL={level!r} is not a log level: use TRACE, DEBUG, INFO, "
                         f"WARNING or ERROR.") from None
    logger.remove()
    # diagnose=False: tracebacks without the values of local variables, which may hold
    # passwords (the Nextcloud app password) or users' data.
    logger.add(sys.stdout, level=number, diagnose=False,
               format="{time:YYYY-MM-DD HH:mm:ss.SSS} {level: <7} {name}: {message}")
    # Records below the level are not even made (loguru's level numbers are the stdlib's).
    logging.basicConfig(handlers=[InterceptHandler()], level=number, force=True)
    # chmanager.request_log writes the one line per request; runserver's own would repeat it.
    logging.getLogger("django.server").setLevel(logging.WARNING)
