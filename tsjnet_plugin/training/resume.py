"""Pick the checkpoint to resume from: the newest one that is readable.

A checkpoint written by ``torch.save`` is a zip archive; :func:`is_readable_checkpoint` checks
its structure and the CRC of every member without unpickling anything, so a truncated or
corrupt file (a crash of the disk or of a copy, a save interrupted outside our atomic writer) is
recognised before a framework tries to load it.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

__all__ = ["is_readable_checkpoint", "newest_readable_checkpoint"]

logger = logging.getLogger(__name__)


def is_readable_checkpoint(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a complete ``torch.save`` archive (every member's CRC checks out)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (OSError, zipfile.BadZipFile, EOFError, ValueError):
        return False


def newest_readable_checkpoint(
    latest: str | os.PathLike | None, others: Sequence[str | os.PathLike]
) -> Path | None:
    """``latest`` if it is readable, else the newest readable file of ``others`` (by
    modification time), logging one warning that names both; None when none is readable."""
    candidates = [Path(latest)] if latest else []
    candidates += sorted(
        (Path(p) for p in others if Path(p) not in candidates and Path(p).is_file()),
        key=lambda p: p.stat().st_mtime_ns,
        reverse=True,
    )
    for path in candidates:
        if is_readable_checkpoint(path):
            if latest and path != Path(latest):
                logger.warning(
                    "resume: %s is missing or unreadable (truncated or corrupt); resuming from %s instead",
                    latest,
                    path,
                )
            return path
    if candidates:
        logger.warning("resume: none of %s is a readable checkpoint", [str(p) for p in candidates])
    return None
