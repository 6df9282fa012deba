import pytest

from directory_svc.domain.errors import ValidationError
from directory_svc.domain.numbers import LineType, parse_french_number


@pytest.mark.parametrize(
    "writing",
    ["0612345678", "06 12 34 56 78", "+33 6 12 34 56 78", "0033612345678", "+33612345678"],
)
def test_every_common_writing_gives_the_same_e164(writing: str) -> None:
    number = parse_french_number(writing)
    assert number.e164 == "+33612345678"
    assert number.line_type is LineType.MOBILE
    assert number.national == "06 12 34 56 78"


@pytest.mark.parametrize(
    ("writing", "line_type"),
    [("01 42 68 53 00", LineType.FIXED_GEOGRAPHIC), ("09 72 10 10 10", LineType.NON_GEOGRAPHIC)],
)
def test_line_types(writing: str, line_type: LineType) -> None:
    assert parse_french_number(writing).line_type is line_type


@pytest.mark.parametrize("writing", ["12", "hello", "+44 20 7946 0958", "06 12 34"])
def test_bad_numbers_name_the_field_and_never_echo_the_input(writing: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_french_number(writing, field="lines.number")
    assert caught.value.field == "lines.number"
    assert writing not in str(caught.value)


ODD_WRITINGS = [
    "0612345678 ext. 12",
    "0612345678;ext=12",
    "06 12 34 56 78 x12",
    "\u0660\u0666\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668",  # Arabic-Indic digits
    "\uff10\uff16\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18",  # fullwidth digits
    "06\u200b12345678",  # zero-width space
    "0612345678\x00",
    "\ufeff0612345678",
]


@pytest.mark.parametrize("writing", ODD_WRITINGS, ids=[repr(w) for w in ODD_WRITINGS])
def test_extensions_other_scripts_and_invisible_characters_are_refused(writing: str) -> None:
    """Issue 16, item 11: a number is written with ASCII digits and separators only."""
    with pytest.raises(ValidationError) as caught:
        parse_french_number(writing)
    assert caught.value.rule == "invalid_number"


def test_brackets_dots_and_hyphens_still_read() -> None:
    assert parse_french_number("(01) 42.68.53.00").e164 == "+33142685300"
    assert parse_french_number("01-42-68-53-00").e164 == "+33142685300"
