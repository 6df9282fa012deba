"""Which process holds a lease or a claim, and whether it is known to be gone.

An owner is ``host:pid:start`` (``start``: the process's start time in clock ticks since
boot, from ``/proc``, so a reused pid is not taken for the dead process; ``0`` where there
is no ``/proc``). Older records say ``host:pid``. Only a process of this machine can be
known to be gone; any other owner is judged by its lease's age alone.
"""

from __future__ import annotations

import os
import socket
from functools import cache


def _start_of(pid: int) -> int | None:
    """The start time of process ``pid`` (clock ticks since boot); None when it has none."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return int(fields[19])  # field 22 of stat, counted after the command name


@cache
def this_process() -> str:
    """The owner name of this process."""
    return f"{socket.gethostname()}:{os.getpid()}:{_start_of(os.getpid()) or 0}"


def process_gone(owner: str) -> bool:
    """True when ``owner`` is a process of this machine that no longer runs."""
    host, _, rest = owner.partition(":")
    pid, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    if start.isdigit() and int(start):  # the pid runs: the same process, or a new one?
        now = _start_of(int(pid))
        return now is not None and now != int(start)
    return False
