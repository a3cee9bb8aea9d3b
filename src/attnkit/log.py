"""attnkit's messages to the person at the terminal (what data it read, what it will train).

Library code reports through the standard ``logging`` module under the ``attnkit`` logger, so
an application decides where they go; the ``attnkit`` command line prints them on stderr.

Example:
    >>> import logging
    >>> logger.name
    'attnkit'
"""

from __future__ import annotations

import logging

logger = logging.getLogger("attnkit")


def info(message: str) -> None:
    """Report ``message`` (a line for the user, not a debug trace)."""
    logger.info(message)


__all__ = ["info", "logger"]
