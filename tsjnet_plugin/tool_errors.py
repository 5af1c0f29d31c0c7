"""How the command-line tools report an error the user caused: one line on stderr naming the
file or key and the fix, exit status 2, no traceback. docs/errors.md lists the cases."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

from .data.records import DatasetError
from .fusion.checkpoint import CheckpointError

__all__ = ["USAGE_EXIT", "USER_ERRORS", "UsageError", "fail", "user_errors"]

USAGE_EXIT = 2


class UsageError(ValueError):
    """A bad command-line argument or config value; the message names it and the fix."""


# Errors whose message already names the file or key: shown as they are.
USER_ERRORS: tuple[type[BaseException], ...] = (
    UsageError,
    DatasetError,
    CheckpointError,
    FileNotFoundError,
    FileExistsError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
)


def fail(tool: str, message: object) -> NoReturn:
    """Print ``<tool>: error: <message>`` (first line only) to stderr and exit with status 2."""
    line = str(message).strip().splitlines()[0] if str(message).strip() else repr(message)
    print(f"{tool}: error: {line}", file=sys.stderr)
    raise SystemExit(USAGE_EXIT)


@contextmanager
def user_errors(tool: str, *extra: type[BaseException]) -> Iterator[None]:
    """Turn `USER_ERRORS` (and ``extra``) raised in the block into `fail(tool, error)`."""
    try:
        yield
    except (*USER_ERRORS, *extra) as error:
        fail(tool, error)
