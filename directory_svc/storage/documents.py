"""The one place that maps stored documents to domain objects and back."""

from __future__ import annotations

from typing import Any

from directory_svc.domain.listings import Listing, ListingKind
from directory_svc.domain.numbers import LineType

Document = dict[str, Any]


def listing_to_document(listing: Listing) -> Document:
    """The stored shape of a listing (field names are short and stable)."""
    return {
        "_id": listing.id,
        "kind": listing.kind.value,
        "surname": listing.surname,
        "first_name": listing.first_name,
        "business_name": listing.business_name,
        "postcode": listing.postcode,
        "commune": listing.commune,
        "insee": listing.insee_code,
        "number": listing.number,
        "line_type": listing.line_type.value,
        "listed": listing.listed,
        "v": listing.version,
        "updated_at": listing.updated_at,
    }


def listing_from_document(doc: Document) -> Listing:
    """Rebuild a domain listing from its stored document."""
    return Listing(
        id=doc["_id"],
        kind=ListingKind(doc["kind"]),
        surname=doc["surname"],
        first_name=doc["first_name"],
        business_name=doc.get("business_name"),
        postcode=doc["postcode"],
        commune=doc["commune"],
        insee_code=doc["insee"],
        number=doc["number"],
        line_type=LineType(doc["line_type"]),
        listed=doc["listed"],
        version=doc["v"],
        updated_at=doc["updated_at"],
    )
