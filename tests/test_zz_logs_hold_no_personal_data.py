"""Runs last: the log of the whole suite holds none of the seeded names, numbers or e-mails.

The suite logs at INFO and up, as in production, to ``$TEST_OUTPUT/suite-log.jsonl``.
"""

import logging
import re

import pytest

from directory_svc.domain.listings import Listing
from directory_svc.domain.numbers import parse_french_number
from tests.conftest import (
    SEEDED,
    SUITE_LOG,
    _demo_listings,  # the generator itself, not the recording wrapper
)


def personal_values(listing: Listing) -> set[str]:
    """What of a listing must never be logged (words short enough to be common are left out)."""
    values = {listing.surname, listing.email or "", *listing.business_names}
    if len(listing.first_name) >= 5:
        values.add(listing.first_name)
    if listing.address.street and len(listing.address.street) >= 8:
        values.add(listing.address.street)
    for n in listing.numbers:
        values |= {n.e164, parse_french_number(n.e164).national.replace(" ", "")}
    return {v for v in values if len(v) >= 4}


_TOKEN = re.compile(r"[+\w]+")


def leaks(log_text: str, values: set[str]) -> list[str]:
    """The values found in the log, as whole words.

    The log's words are collected once; a value is searched for (as a whole-word regex)
    only when every word of it occurs in the log, so the check stays linear in the log's
    size whatever the number of values.
    """
    words = set(_TOKEN.findall(log_text))
    found = []
    for value in values:
        if not all(w in words for w in _TOKEN.findall(value)):
            continue
        if re.search(rf"(?<![\w+]){re.escape(value)}(?!\w)", log_text):
            found.append(value)
    return sorted(found)


def test_the_checker_finds_a_planted_value() -> None:
    assert leaks('{"message": "looked up +33612345678"}', {"+33612345678"}) == ["+33612345678"]
    assert leaks('{"message": "Martinez"}', {"Martin"}) == []


def test_no_seeded_personal_data_in_the_suite_log() -> None:
    if not SEEDED:
        pytest.skip("run with the whole suite: no test seeded data in this run")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = SUITE_LOG.read_text(encoding="utf-8")
    assert '"message": "request"' in text  # the suite's requests were logged
    values: set[str] = set()
    for count, seed in SEEDED:
        for listing in _demo_listings(count, seed):
            values |= personal_values(listing)
    assert len(values) > 100
    assert leaks(text, values) == []


def test_the_checker_is_not_fooled_by_words_spread_apart() -> None:
    assert leaks('{"a": "rue", "b": "des Lilas"}', {"rue des Lilas"}) == []
    assert leaks('{"a": "12 rue des Lilas"}', {"rue des Lilas"}) == ["rue des Lilas"]
