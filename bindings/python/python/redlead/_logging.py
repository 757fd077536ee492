"""Python ``logging`` for the library's events (the native side is
``src/log.rs``): one logger per Rust module, under ``redlead``
(``redlead.lock``, ``redlead.election.lead``, ...). Records arrive on the
library's ``redlead-log`` thread, never on its I/O thread.

As a library should, ``redlead`` has a NullHandler: nothing is printed
unless the application configures logging."""

from __future__ import annotations

import logging
from typing import Iterator, List, Tuple

_ROOT = "redlead"

logging.getLogger(_ROOT).addHandler(logging.NullHandler())

#: The library's levels, most verbose first: (its rank, Python's number).
#: TRACE, which Python lacks, is 5.
_LEVELS = ((5, 5), (4, logging.DEBUG), (3, logging.INFO), (2, logging.WARNING), (1, logging.ERROR))


def _loggers() -> Iterator[logging.Logger]:
    yield logging.getLogger(_ROOT)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if name.startswith(_ROOT + ".") and isinstance(logger, logging.Logger):
            yield logger


def _level() -> int:
    """The most verbose rank any ``redlead`` logger takes (0: none)."""
    loggers = list(_loggers())
    for rank, level in _LEVELS:
        if any(logger.isEnabledFor(level) for logger in loggers):
            return rank
    return 0


def _emit(records: List[Tuple[str, int, str]]) -> int:
    """Logs ``(logger, level, message)`` records; returns ``_level()``."""
    for name, level, message in records:
        logger = logging.getLogger(name)
        if logger.isEnabledFor(level):
            logger.log(level, message)
    return _level()
