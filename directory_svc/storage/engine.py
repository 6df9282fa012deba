"""What the server is, asked once per client: the one place engine differences are decided.

The production path follows MongoDB's semantics; the embedded FerretDB 1.24 differs where
``storage/ddl.py`` (one index per command), ``storage/listing_reads.py`` (an unsorted scan)
and ``storage/versioned.py`` (claims) say.
"""

from __future__ import annotations

import weakref
from typing import Any

_FERRETDB: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


async def is_ferretdb(client: Any) -> bool:
    """Whether ``client``'s server is FerretDB (its ``buildInfo`` says so)."""
    if client not in _FERRETDB:
        info = await client.admin.command("buildInfo")
        _FERRETDB[client] = "ferretdbVersion" in info
    return _FERRETDB[client]
