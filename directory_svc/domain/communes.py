"""French communes: INSEE code format, and the official table (loaded by the caller)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from directory_svc.domain.errors import ValidationError

INSEE_CODE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")
POSTCODE = re.compile(r"^\d{5}$")


@dataclass(frozen=True, slots=True)
class Commune:
    """One commune (or municipal arrondissement) of the official list."""

    insee_code: str
    name: str
    departement: str
    postcodes: tuple[str, ...]
    population: int


MUNICIPAL_ARRONDISSEMENTS: dict[str, frozenset[str]] = {
    "75056": frozenset(str(code) for code in range(75101, 75121)),  # Paris
    "69123": frozenset(str(code) for code in range(69381, 69390)),  # Lyon
    "13055": frozenset(str(code) for code in range(13201, 13217)),  # Marseille
}
"""Paris, Lyon and Marseille, each with the INSEE codes of its municipal arrondissements."""

_PARENT = {arr: city for city, arrs in MUNICIPAL_ARRONDISSEMENTS.items() for arr in arrs}


def commune_of(insee_code: str) -> str:
    """The commune a code belongs to: the city for an arrondissement, else the code itself."""
    return _PARENT.get(insee_code, insee_code)


def departement_of(insee_code: str) -> str:
    """The département of a commune: 2 characters, or 3 overseas (971–976)."""
    return insee_code[:3] if insee_code.startswith("97") else insee_code[:2]


def check_insee_code(field: str, code: str) -> str:
    """Raise unless ``code`` has the form of an INSEE commune code (``75056``, ``2A004``)."""
    if not INSEE_CODE.match(code):
        raise ValidationError(field, "insee_format", "is not an INSEE commune code")
    return code


def check_postcode(field: str, code: str) -> str:
    """Raise unless ``code`` has the form of a French postcode (5 digits)."""
    if not POSTCODE.match(code):
        raise ValidationError(field, "postcode_format", "is not a French postcode")
    return code


class CommuneTable:
    """The official commune list, indexed by INSEE code."""

    def __init__(self, communes: Iterable[Commune]) -> None:
        self._by_code = {c.insee_code: c for c in communes}

    @classmethod
    def parse(cls, lines: Iterable[str]) -> CommuneTable:
        """Build from the TSV lines of ``reference/communes.tsv.gz`` (``#`` lines skipped)."""
        communes = []
        for line in lines:
            if not line.strip() or line.startswith("#"):
                continue
            code, name, dep, postcodes, population = line.rstrip("\n").split("\t")
            communes.append(Commune(code, name, dep, tuple(postcodes.split()), int(population)))
        return cls(communes)

    def __len__(self) -> int:
        return len(self._by_code)

    def get(self, insee_code: str) -> Commune | None:
        """The commune with this code, or ``None``."""
        return self._by_code.get(insee_code)

    def all(self) -> list[Commune]:
        """Every commune, in code order."""
        return sorted(self._by_code.values(), key=lambda c: c.insee_code)

    def canonical(self, field: str, insee_code: str, postcode: str) -> str:
        """The code a listing is stored with: Paris, Lyon and Marseille are stored with
        the arrondissement that the postcode names (one place, one identity).

        Raises ``ValidationError`` when a city code comes with a postcode that names no
        single arrondissement of it.
        """
        arrondissements = MUNICIPAL_ARRONDISSEMENTS.get(insee_code)
        if arrondissements is None:
            return insee_code
        found = [
            code
            for code in sorted(arrondissements)
            if (c := self._by_code.get(code)) is not None and postcode in c.postcodes
        ]
        if len(found) != 1:
            raise ValidationError(
                f"{field}.insee_code",
                "arrondissement_required",
                "give the arrondissement's code: the postcode names none of this city's",
            )
        return found[0]

    def check(self, field: str, insee_code: str, postcode: str) -> Commune:
        """The commune, after checking that it exists and that the postcode belongs to it."""
        check_insee_code(f"{field}.insee_code", insee_code)
        check_postcode(f"{field}.postcode", postcode)
        commune = self._by_code.get(insee_code)
        if commune is None:
            raise ValidationError(f"{field}.insee_code", "unknown_commune", "is not a commune")
        if postcode not in commune.postcodes:
            raise ValidationError(
                f"{field}.postcode", "postcode_mismatch", "does not belong to this commune"
            )
        return commune
