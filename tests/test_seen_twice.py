"""The colliding-key pre-filter never misses a key held twice (property-based)."""

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from directory_svc.storage.seen_twice import SeenTwice

keys = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)


@settings(max_examples=200, deadline=None)
@given(st.lists(keys, max_size=300), st.integers(min_value=3, max_value=27))
def test_every_repeated_key_is_flagged(stream: list[str], bits_log2: int) -> None:
    seen = SeenTwice(bits_log2)
    for key in stream:
        seen.add(key)
    repeated = {k for k, n in Counter(stream).items() if n > 1}
    assert repeated <= seen.repeated  # a tiny filter may flag more, never fewer
    assert seen.repeated <= set(stream)


def test_keys_held_once_are_not_flagged_by_a_full_size_filter() -> None:
    seen = SeenTwice()
    for n in range(50_000):
        seen.add(f"{n * 0x9E3779B97F4A7C15 % (1 << 128):032x}")
    seen.add(f"{0x9E3779B97F4A7C15:032x}")
    assert seen.repeated == {f"{0x9E3779B97F4A7C15:032x}"}
