#!/usr/bin/env python3
"""Profile one full export with pyinstrument in async mode (time spent awaiting the database
is charged to the code that awaits it). Settings from the environment, as the CLI:

    DIRECTORY_KEYS_DIR=… DIRECTORY_DB=… python bench/profile_export.py PUBLISHER OUT_DIR
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pyinstrument import Profiler

from directory_svc.config import load_settings
from directory_svc.services.publishers import export_now
from directory_svc.storage.setup import open_storage


async def main(publisher: str, out: Path) -> None:
    settings = load_settings()
    assert settings.keys_dir is not None
    storage = await open_storage(settings)
    try:
        with Profiler(async_mode="enabled") as profiler:
            await export_now(storage, settings.keys_dir, publisher, out, True)
    finally:
        await storage.close()
    print(profiler.output_text(color=False, show_all=False))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
