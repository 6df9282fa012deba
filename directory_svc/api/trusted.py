"""Trusted documents: the operations of ``graphql/operations/``, each known by its hash.

Each named operation becomes one document (the operation and the fragments it uses, printed
canonically); its id is ``sha256:<hex>`` of that text. Clients send the id (Apollo's
``extensions.persistedQuery.sha256Hash`` or a ``documentId``) or the exact text.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from graphql.language import Visitor

from directory_svc.config import ConfigError
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    parse,
    print_ast,
    visit,
)


class TrustedDocumentsError(ConfigError):
    """The operations folder is not usable (raised at start-up, names the variable)."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"DIRECTORY_OPERATIONS_DIR: {detail}")


@dataclass(frozen=True, slots=True)
class TrustedDocument:
    """One operation a client may send."""

    name: str
    source: str
    text: str
    kind: OperationType

    @property
    def id(self) -> str:
        """``sha256:<hex>`` of the text."""
        return document_id(self.text)


def document_id(text: str) -> str:
    """The id of a document's text."""
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


class _Spreads(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_args: object) -> None:
        self.names.add(node.name.value)


def _spreads(node: OperationDefinitionNode | FragmentDefinitionNode) -> set[str]:
    found = _Spreads()
    visit(node, found)
    return found.names


def split_operations(source: str) -> dict[str, tuple[str, OperationType]]:
    """Each named operation of a GraphQL file as its own printed document."""
    document = parse(source)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    out: dict[str, tuple[str, OperationType]] = {}
    for op in document.definitions:
        if not isinstance(op, OperationDefinitionNode):
            continue
        if op.name is None:
            raise TrustedDocumentsError("an operation has no name")
        needed: set[str] = set()
        todo = _spreads(op)
        while todo:
            name = todo.pop()
            if name not in needed:
                needed.add(name)
                todo |= _spreads(fragments[name])
        nodes = (op, *(fragments[n] for n in sorted(needed)))
        out[op.name.value] = (print_ast(DocumentNode(definitions=nodes)), op.operation)
    return out


class TrustedDocuments:
    """Every operation of the folder, by id and by name."""

    def __init__(self, documents: list[TrustedDocument]) -> None:
        self._by_id = {d.id: d for d in documents}
        self._by_name = {d.name: d for d in documents}

    @classmethod
    def load(cls, folder: Path) -> TrustedDocuments:
        """Read ``folder/*.graphql``; operation names must be unique across files."""
        files = sorted(folder.glob("*.graphql"))
        if not files:
            raise TrustedDocumentsError(f"no operations in {folder}")
        documents: dict[str, TrustedDocument] = {}
        for path in files:
            try:
                found = split_operations(path.read_text(encoding="utf-8"))
            except (GraphQLError, KeyError, UnicodeError) as exc:
                raise TrustedDocumentsError(f"{path.name}: not a valid document: {exc}") from None
            for name, (text, kind) in found.items():
                if name in documents:
                    raise TrustedDocumentsError(f"operation {name} is defined twice")
                documents[name] = TrustedDocument(name, path.stem, text, kind)
        return cls(list(documents.values()))

    def by_id(self, doc_id: str) -> TrustedDocument | None:
        """The document with this id, if trusted."""
        return self._by_id.get(doc_id)

    def by_text(self, text: str) -> TrustedDocument | None:
        """The document with exactly this text, if trusted."""
        return self._by_id.get(document_id(text))

    def by_name(self, name: str) -> TrustedDocument:
        """The document of a named operation (KeyError when unknown)."""
        return self._by_name[name]

    def of_source(self, source: str) -> list[TrustedDocument]:
        """The documents of one file (``customer`` for the form)."""
        return [d for d in self._by_name.values() if d.source == source]
