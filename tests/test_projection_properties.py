"""Property-based tests of the R10 projection (brief §2; issue acceptance 2)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from directory_svc.domain.listings import Listing, ListingKind, Status
from directory_svc.domain.numbers import LineType
from directory_svc.domain.projection import (
    HomonymIndex,
    Projection,
    ReasonCode,
    exclusion,
    homonyms_in_list,
    project,
)
from directory_svc.domain.publishers import (
    ChoicePolicy,
    HomonymyPolicy,
    PublisherKind,
    PublisherProfile,
)
from directory_svc.domain.text import initial_of
from tests.strategies import listings, profiles

MANY = settings(max_examples=1000, deadline=None)
others = st.lists(listings(), max_size=6)


def _run(listing: Listing, profile: PublisherProfile, neighbours: list[Listing]) -> Projection:
    return project(listing, profile, HomonymIndex([listing, *neighbours]))


def _reason(projection: Projection, code: ReasonCode, choice: str) -> bool:
    return any(r.code is code and r.choice == choice for r in projection.reasons)


def _masks(profile: PublisherProfile) -> bool:
    return profile.choice_policy is ChoicePolicy.MASK


@MANY
@given(listings(), profiles, others)
def test_unlisted_terminated_or_unconsented_mobile_reach_no_publisher(
    listing: Listing, profile: PublisherProfile, neighbours: list[Listing]
) -> None:
    result = _run(listing, profile, neighbours)
    consented = [
        n.e164
        for n in listing.numbers
        if n.published and (n.line_type is not LineType.MOBILE or n.consent is not None)
    ]
    if not listing.choices.listed or not consented or listing.status is Status.TERMINATED:
        assert result.record is None
        assert len(result.reasons) == 1
    elif result.record is not None and "numbers" in profile.fields:
        # Each number by its own line type, whatever its position (L34).
        assert result.record.fields["numbers"] == tuple(consented)


@MANY
@given(listings(), profiles, others)
def test_initial_only_publishes_the_initial_unless_a_homonym_says_why(
    listing: Listing, profile: PublisherProfile, neighbours: list[Listing]
) -> None:
    result = _run(listing, profile, neighbours)
    if result.record is None or not listing.choices.initial_only:
        return
    assert result.record.flags.initial_only
    if "first_name" not in profile.fields:
        return
    published = result.record.fields["first_name"]
    if not _masks(profile):
        assert published == listing.first_name
        assert _reason(result, ReasonCode.FLAGGED, "initial_only")
    elif published == initial_of(listing.first_name):
        assert _reason(result, ReasonCode.MASKED, "initial_only")
    else:
        assert published == listing.first_name
        assert _reason(result, ReasonCode.HOMONYM, "initial_only")
        assert profile.homonymy is HomonymyPolicy.STRICT
        index = HomonymIndex([listing, *neighbours])
        code = listing.address.insee_code
        assert index.same_initial(code, listing.surname, listing.first_name) > 1


@MANY
@given(listings(), profiles, others)
def test_no_gender_removes_civility_under_the_same_homonymy_rule(
    listing: Listing, profile: PublisherProfile, neighbours: list[Listing]
) -> None:
    result = _run(listing, profile, neighbours)
    if result.record is None or not listing.choices.no_gender:
        return
    assert result.record.flags.no_gender
    if "civility" not in profile.fields or listing.civility is None:
        return
    civility = result.record.fields["civility"]
    if civility is None:
        assert _masks(profile)
        assert _reason(result, ReasonCode.MASKED, "no_gender")
    else:
        assert _reason(result, ReasonCode.HOMONYM, "no_gender") or not _masks(profile)
        if _masks(profile):
            index = HomonymIndex([listing, *neighbours])
            code = listing.address.insee_code
            assert index.same_name(code, listing.surname, listing.first_name) > 1


@MANY
@given(listings(), profiles, others)
def test_no_street_removes_the_street_part_except_for_consumer_facing_professionals(
    listing: Listing, profile: PublisherProfile, neighbours: list[Listing]
) -> None:
    result = _run(listing, profile, neighbours)
    if result.record is None or not listing.choices.no_street:
        return
    assert result.record.flags.no_street
    fields = result.record.fields
    consumer_pro = listing.kind is ListingKind.PROFESSIONAL and listing.consumer_facing
    street_parts = [fields.get(name) for name in ("street", "locality", "complement")]
    if _masks(profile) and not consumer_pro:
        assert street_parts == [None, None, None]
        assert _reason(result, ReasonCode.MASKED, "no_street")
    elif consumer_pro and _masks(profile):
        assert _reason(result, ReasonCode.CONSUMER_FACING_PROFESSIONAL, "no_street")
        if "street" in profile.fields:
            assert fields["street"] == listing.address.street_line
    # Postcode, commune and INSEE code always stay (geographic scoping).
    for name in ("postcode", "commune", "insee_code"):
        if name in profile.fields:
            assert fields[name] is not None


@MANY
@given(listings(), profiles, others)
def test_no_reverse_lookup_never_reaches_a_reverse_lookup_service_unflagged(
    listing: Listing, profile: PublisherProfile, neighbours: list[Listing]
) -> None:
    result = _run(listing, profile, neighbours)
    if profile.kind is PublisherKind.REVERSE_LOOKUP and listing.choices.no_reverse_lookup:
        assert result.record is None or result.record.flags.no_reverse_lookup
        if _masks(profile):
            assert result.record is None


@MANY
@given(listings(), profiles, others)
def test_no_marketing_is_always_flagged(
    listing: Listing, profile: PublisherProfile, neighbours: list[Listing]
) -> None:
    result = _run(listing, profile, neighbours)
    if result.record is not None:
        assert result.record.flags.no_marketing == listing.choices.no_marketing


@MANY
@given(listings(), profiles, others)
def test_out_of_scope_gets_nothing_and_only_allowed_fields_leave(
    listing: Listing, profile: PublisherProfile, neighbours: list[Listing]
) -> None:
    result = _run(listing, profile, neighbours)
    if not profile.scope.contains(listing.address.insee_code):
        assert result.record is None
    if result.record is not None:
        assert set(result.record.fields) <= profile.fields
        assert result.record.entry_id == listing.id


@MANY
@given(listings(), profiles, others)
def test_a_namesake_the_list_leaves_out_limits_no_one(
    listing: Listing, profile: PublisherProfile, neighbours: list[Listing]
) -> None:
    """Only namesakes the publisher's list lets in count for homonymy (brief §2), and those
    a reverse look-up list leaves out by their own reverse-look-up choice (so that nobody's
    outcome reveals that choice: issue 16, item 10)."""

    def counts(n: Listing) -> bool:
        return exclusion(n, profile) in (None, ReasonCode.REVERSE_LOOKUP_EXCLUDED)

    kept = [n for n in neighbours if counts(n)]
    group = [listing, *neighbours]
    with_all = project(listing, profile, homonyms_in_list(group, profile))
    with_kept = project(listing, profile, homonyms_in_list([listing, *kept], profile))
    assert with_all == with_kept
    index = homonyms_in_list(group, profile)
    code = listing.address.insee_code
    counted = sum(
        1
        for n in group
        if counts(n) and HomonymIndex([n]).same_name(code, listing.surname, listing.first_name)
    )
    assert index.same_name(code, listing.surname, listing.first_name) == counted
