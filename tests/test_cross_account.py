"""A customer token for account A can never read or change account B, whatever it asks.

Every query and mutation field of the schema is called with arguments aimed at B (B's
listing id, account, number, name, current version), asking for every field it returns;
then every operation of graphql/operations is sent the same way. No answer may contain B's
data, and B's listings must be exactly as before.
"""

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from graphql.utilities import type_from_ast

from directory_svc.api.schema import build_schema
from directory_svc.api.trusted import split_operations
from directory_svc.app import create_app
from directory_svc.config import OPERATIONS_DIR, Settings
from directory_svc.domain.access import Role
from directory_svc.domain.listings import Listing
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.setup import Storage
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    OperationDefinitionNode,
    get_named_type,
    is_non_null_type,
    parse,
)
from tests.conftest import run_operation, token

MAX_DEPTH = 5


class Target:
    """Values that point at account B."""

    def __init__(self, listing: Listing) -> None:
        self.listing = listing
        self.by_name = {
            "id": listing.id, "listingId": listing.id, "entryId": listing.id,
            "accountId": listing.account_id, "number": listing.numbers[0].e164,
            "surname": listing.surname, "commune": listing.address.insee_code,
            "postcode": listing.address.postcode, "firstName": listing.first_name,
            "agent": "someone", "purpose": "enumeration test", "reason": "enumeration test",
        }  # fmt: skip

    def secrets(self) -> list[str]:
        found = [self.listing.id, self.listing.account_id, self.listing.surname]
        return found + [n.e164 for n in self.listing.numbers]


def _value(name: str, gtype: Any, b: Target, expected_version: int) -> Any:
    """A JSON value for an argument or input field called ``name``, aimed at B."""
    inner = gtype.of_type if isinstance(gtype, GraphQLNonNull) else gtype
    if isinstance(inner, GraphQLList):
        return [_value(name, inner.of_type, b, expected_version)]
    if isinstance(inner, GraphQLInputObjectType):
        return {f: _value(f, spec.type, b, expected_version) for f, spec in inner.fields.items()}
    if isinstance(inner, GraphQLEnumType):
        return next(iter(inner.values))
    assert isinstance(inner, GraphQLScalarType)
    if inner.name == "Int":
        return expected_version if name == "expectedVersion" else 5
    if inner.name == "Boolean":
        return True
    if inner.name == "DateTime":
        return "2020-01-01T00:00:00+00:00"
    if inner.name == "JSON":
        return {}
    return b.by_name.get(name, "x")


def _literal(name: str, gtype: Any, b: Target, expected_version: int) -> str:
    """The same value written as a GraphQL literal."""
    return _write(_value(name, gtype, b, expected_version), gtype)


def _write(value: Any, gtype: Any) -> str:
    inner = gtype.of_type if isinstance(gtype, GraphQLNonNull) else gtype
    if isinstance(inner, GraphQLList):
        return "[" + ", ".join(_write(v, inner.of_type) for v in value) + "]"
    if isinstance(inner, GraphQLInputObjectType):
        parts = [f"{k}: {_write(v, inner.fields[k].type)}" for k, v in value.items()]
        return "{" + ", ".join(parts) + "}"
    if isinstance(inner, GraphQLEnumType) or isinstance(value, bool | int):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return json.dumps(value)


def _selection(gtype: Any, depth: int) -> str:
    named = get_named_type(gtype)
    if not isinstance(named, GraphQLObjectType | GraphQLUnionType):
        return ""
    if depth == 0:
        return "{ __typename }"
    if isinstance(named, GraphQLUnionType):
        members = " ".join(f"... on {m.name} {_selection(m, depth - 1)}" for m in named.types)
        return f"{{ __typename {members} }}"
    parts = []
    for field_name, field in named.fields.items():
        if any(is_non_null_type(a.type) for a in field.args.values()):
            continue
        parts.append(f"{field_name} {_selection(field.type, depth - 1)}")
    return "{ " + " ".join(parts) + " }"


def enumerate_operations(b: Target, expected_version: int) -> dict[str, str]:
    """One document per query and mutation field of the schema, aimed at ``b``."""
    schema = build_schema()._schema
    documents = {}
    for kind, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        assert root is not None
        for field_name, field in root.fields.items():
            args = ", ".join(
                f"{arg}: {_literal(arg, spec.type, b, expected_version)}"
                for arg, spec in field.args.items()
            )
            call = f"{field_name}({args})" if args else field_name
            name = f"Enum_{kind}_{field_name}"
            documents[name] = f"{kind} {name} {{ {call} {_selection(field.type, MAX_DEPTH)} }}"
    return documents


async def test_a_customer_never_reaches_another_account(
    aiohttp_client: Any, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    await seed_listings(storage.listings, 12, seed=31, accounts=storage.accounts)
    everyone = list(demo_listings(12, seed=31))
    mine = everyone[0]
    theirs = next(i for i in everyone if i.account_id != mine.account_id
                  and i.surname != mine.surname)  # fmt: skip
    b = Target(theirs)
    before = {i.id: (await storage.listings.get(i.id)) for i in everyone if i.account_id ==
              theirs.account_id}  # fmt: skip
    version = before[theirs.id].version  # type: ignore[union-attr]

    documents = enumerate_operations(b, version)
    folder = tmp_path / "operations"
    shutil.copytree(OPERATIONS_DIR, folder)
    (folder / "enumeration.graphql").write_text("\n\n".join(documents.values()))
    api = await aiohttp_client(create_app(replace(settings, operations_dir=folder,
                                                  mutations_per_minute=10_000)))  # fmt: skip
    bearer = token(settings, Role.CUSTOMER, account_id=mine.account_id)

    answered = {}
    for name, text in documents.items():
        body = await run_operation(api, text, name, {}, bearer)
        for error in body.get("errors", []):
            assert "Cannot query" not in error["message"], (name, error)  # the test's own doc
            assert "Unknown argument" not in error["message"], (name, error)
        answered[name] = body
    real = {}
    for path in sorted(OPERATIONS_DIR.glob("*.graphql")):
        source = path.read_text()
        for name in _names(source):
            variables = _variables_for(source, name, b, version)
            real[name] = await run_operation(api, source, name, variables, bearer)

    for name, body in {**answered, **real}.items():
        text = json.dumps(body, ensure_ascii=False)
        leaked = [s for s in b.secrets() if s in text]
        assert leaked == [], f"{name} leaked account B's data"

    # The test reaches real answers: A's own data comes back where the role allows it.
    assert answered["Enum_query_me"]["data"]["me"]["accountId"] == mine.account_id
    assert real["Me"]["data"]["me"]["accountId"] == mine.account_id
    for listing_id, was in before.items():
        now = await storage.listings.get(listing_id)
        assert now == was  # B's listings are exactly as before
        assert len(await storage.listings.history(listing_id)) == 1


def _names(source: str) -> list[str]:
    return list(split_operations(source))


def _variables_for(source: str, name: str, b: Target, version: int) -> dict[str, Any]:
    """Variables aimed at B for a real operation, from its variable definitions."""
    schema = build_schema()._schema
    text = split_operations(source)[name][0]
    op = next(d for d in parse(text).definitions if isinstance(d, OperationDefinitionNode))
    return {
        d.variable.name.value: _value(
            d.variable.name.value,
            type_from_ast(schema, d.type),
            b,
            version,  # type: ignore[arg-type]
        )
        for d in op.variable_definitions or ()
    }
