from pathlib import Path

from directory_svc.api.schema import build_schema

SDL = Path(__file__).resolve().parent.parent / "graphql" / "schema.graphql"


def test_committed_sdl_matches_the_code() -> None:
    assert SDL.read_text(encoding="utf-8") == build_schema().as_str() + "\n", (
        "graphql/schema.graphql is stale: run `make schema` and commit the result"
    )


def test_no_python_in_the_graphql_folder() -> None:
    assert not list(SDL.parent.rglob("*.py")), "graphql/ would shadow graphql-core"


def test_graphql_enums_mirror_the_domain_enums() -> None:
    from directory_svc.api import types
    from directory_svc.domain.listings import ListingKind
    from directory_svc.domain.numbers import LineType

    assert [e.value for e in types.ListingKind] == [e.value for e in ListingKind]
    assert [e.value for e in types.LineType] == [e.value for e in LineType]


def test_every_operation_document_is_valid_against_the_schema() -> None:
    from graphql import parse, validate

    schema = build_schema()._schema
    documents = sorted((SDL.parent / "operations").glob("*.graphql"))
    assert documents
    for path in documents:
        errors = validate(schema, parse(path.read_text(encoding="utf-8")))
        assert not errors, f"{path.name}: {errors}"
