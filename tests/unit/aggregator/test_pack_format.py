"""A pack's length read from its MessagePack header alone (services/aggregator/pack_format.py)
agrees with the pack decoded, for each of the array header's three sizes."""

from __future__ import annotations

import pytest

from services.aggregator.pack_format import decode_pack, encode_pack, pack_length


@pytest.mark.parametrize("events", [0, 1, 15, 16, 2000, 65535, 65536])
def test_the_header_says_how_many_events_a_pack_holds(events: int) -> None:
    data = encode_pack([(n, "e") for n in range(events)])
    assert pack_length(data) == len(decode_pack(data)) == events


def test_anything_else_is_refused() -> None:
    with pytest.raises(ValueError, match="not a pack"):
        pack_length(b"\xa3abc")
