"""The same FerretDB launcher as `make test` uses, for tests that must stop a server."""

import importlib.util
from pathlib import Path

_PATH = Path(__file__).resolve().parent.parent / "scripts" / "localdb.py"
_spec = importlib.util.spec_from_file_location("localdb_script", _PATH)
assert _spec
assert _spec.loader
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)

LocalFerretDB = _module.LocalFerretDB
