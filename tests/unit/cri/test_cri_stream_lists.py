"""The streaming list RPCs' chunking: every item once, in order, no empty response."""

from __future__ import annotations

import pytest

from pouch.cri.stream_lists import CHUNK, chunks


@pytest.mark.parametrize("n", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7])
def test_chunks_cover_every_item_once_and_none_is_empty(n):
    items = list(range(n))
    parts = list(chunks(items))
    assert [x for part in parts for x in part] == items
    assert all(0 < len(part) <= CHUNK for part in parts)
    assert len(parts) == -(-n // CHUNK)
