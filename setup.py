"""Build hook: the trusted documents ship inside the package.

``graphql/operations/*.graphql`` stays the source of truth; building the package (wheel or
sdist install) copies it to ``directory_svc/operations/``, so an installed service needs
no checkout (``config.OPERATIONS_DIR`` finds either).
"""

from pathlib import Path
from shutil import copy2

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithOperations(build_py):  # type: ignore[misc]
    """``build_py`` that also copies the trusted documents into the built package."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "directory_svc" / "operations"
        target.mkdir(parents=True, exist_ok=True)
        for source in sorted((ROOT / "graphql" / "operations").glob("*.graphql")):
            copy2(source, target / source.name)


setup(cmdclass={"build_py": BuildWithOperations})
