"""What every command prints besides its result: one-line failures and progress."""

from __future__ import annotations

import sys
from collections.abc import Callable


def fail(message: str, code: int = 2) -> int:
    """Print ``directory-svc: message`` on stderr; returns the exit status ``code``."""
    print(f"directory-svc: {message}", file=sys.stderr)
    return code


def progress(label: str, total: int | None = None) -> Callable[[int], None]:
    """A counter drawn on one stderr line (``label: done/total``), told each step's size."""
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        of = f"/{total}" if total else ""
        print(f"\r{label}: {done}{of}", end="", file=sys.stderr, flush=True)

    return step
