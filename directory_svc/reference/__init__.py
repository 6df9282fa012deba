"""Reference data shipped with the service (see scripts/build-communes.py for its source)."""

from __future__ import annotations

import gzip
from functools import cache
from importlib import resources

from directory_svc.domain.communes import CommuneTable


@cache
def communes() -> CommuneTable:
    """The official commune table, read once on first use (not at import)."""
    data = resources.files(__package__).joinpath("communes.tsv.gz").read_bytes()
    return CommuneTable.parse(gzip.decompress(data).decode("utf-8").splitlines())
