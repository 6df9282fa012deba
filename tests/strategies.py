"""Hypothesis strategies for listings and publisher profiles."""

from datetime import UTC, datetime

from hypothesis import strategies as st

from directory_svc.domain.choices import Actor, Channel, Choices, Consent, Provenance
from directory_svc.domain.listings import (
    Address,
    Civility,
    ExtraUser,
    LineNumber,
    Listing,
    ListingKind,
    Status,
)
from directory_svc.domain.numbers import LineType
from directory_svc.domain.publishers import (
    PUBLISHABLE_FIELDS,
    ChoicePolicy,
    GeoScope,
    HomonymyPolicy,
    PublisherKind,
    PublisherProfile,
)

AT = datetime(2026, 5, 1, tzinfo=UTC)
COMMUNES = ("75056", "69123", "2A004", "97411", "29019")
NUMBERS = {
    LineType.FIXED_GEOGRAPHIC: "+33142685300",
    LineType.NON_GEOGRAPHIC: "+33972101010",
    LineType.MOBILE: "+33612345678",
}
# Few names, with case/accent variants, so homonyms are frequent.
SURNAMES = ("Martin", "MARTIN", "Lefèvre", "lefevre", "Le Gall")
FIRST_NAMES = ("Hélène", "helene", "Henri", "Jean-Pierre", "Jean", "")

consents = st.none() | st.just(Consent(AT, Channel.WEB, "c-1"))

choices = st.builds(
    Choices,
    listed=st.booleans(),
    initial_only=st.booleans(),
    no_gender=st.booleans(),
    no_street=st.booleans(),
    no_reverse_lookup=st.booleans(),
    no_marketing=st.booleans(),
)


@st.composite
def listings(draw: st.DrawFn, listing_id: str | None = None) -> Listing:
    line_type = draw(st.sampled_from(list(NUMBERS)))
    kind = draw(st.sampled_from(ListingKind))
    numbers = [LineNumber(NUMBERS[line_type], line_type, True, draw(consents))]
    second = draw(st.none() | st.sampled_from([t for t in NUMBERS if t is not line_type]))
    if second is not None:  # a second number, of another type, shown or not
        numbers.append(LineNumber(NUMBERS[second], second, draw(st.booleans()), draw(consents)))
    return Listing(
        id=listing_id or draw(st.uuids()).hex,
        account_id="acc-1",
        kind=kind,
        surname=draw(st.sampled_from(SURNAMES)),
        first_name=draw(st.sampled_from(FIRST_NAMES)),
        civility=draw(st.none() | st.sampled_from(Civility)),
        business_names=("Boulangerie Martin",) if kind is ListingKind.PROFESSIONAL else (),
        address=Address(
            postcode="75011",
            insee_code=draw(st.sampled_from(COMMUNES)),
            commune="Somewhere",
            number=draw(st.none() | st.just("12")),
            repetition=draw(st.none() | st.just("bis")),
            street=draw(st.none() | st.just("rue de la Paix")),
            locality=draw(st.none() | st.just("Le Bourg")),
            complement=draw(st.none() | st.just("Bâtiment B")),
        ),
        numbers=tuple(numbers),
        choices=draw(choices),
        provenance=Provenance(Actor.SUBSCRIBER, Channel.WEB, AT, "n1"),
        profession=draw(st.none() | st.just("Boulanger")),
        email=draw(st.none() | st.just("someone@example.fr")),
        consumer_facing=draw(st.booleans()),
        extra_users=draw(st.just(()) | st.just((ExtraUser("Martin", "Léa", None),))),
        status=draw(st.sampled_from(Status)),
    )


profiles = st.builds(
    PublisherProfile,
    id=st.just("pub-1"),
    kind=st.sampled_from(PublisherKind),
    marketing_allowed=st.booleans(),
    scope=st.one_of(
        st.just(GeoScope()),
        st.builds(GeoScope, departements=st.frozensets(st.sampled_from(["75", "69", "2A", "974"]))),
        st.builds(GeoScope, communes=st.frozensets(st.sampled_from(COMMUNES))),
    ),
    fields=st.frozensets(st.sampled_from(PUBLISHABLE_FIELDS)),
    choice_policy=st.sampled_from(ChoicePolicy),
    homonymy=st.sampled_from(HomonymyPolicy),
)
