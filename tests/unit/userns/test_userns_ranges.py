"""pouch.userns.ranges: the allocation rule and the OCI mappings (pure)."""

from __future__ import annotations

import pytest

from pouch.errors import InvalidArgument
from pouch.userns.ranges import (
    MAX_ID,
    IdRange,
    first_free,
    floor_above,
    parse_subid,
    parse_userns_mode,
    wants_userns,
)


def test_floor_is_above_every_subid_range_on_a_100000_boundary():
    assert floor_above([]) == 100000
    assert floor_above(parse_subid("alice:100000:65536\nbob:165536:65536\n")) == 300000
    assert floor_above([(1, 99999)]) == 100000
    assert floor_above([(1, 100000)]) == 200000


def test_parse_subid_skips_bad_lines():
    assert parse_subid("a:1:2\n# comment\nb:x:3\nc:4:5\n\n") == [(1, 2), (4, 5)]


def test_first_free_takes_the_lowest_free_range_and_reuses_freed_ones():
    assert first_free([], 100000) == IdRange(100000)
    a, b, c = IdRange(100000), IdRange(165536), IdRange(231072)
    assert first_free([a, b], 100000) == c
    assert first_free([a, c], 100000) == b  # b was freed


def test_first_free_never_overlaps_a_range_recorded_under_another_floor():
    odd = IdRange(150000)  # overlaps the 2nd and 3rd aligned slots... and the first
    got = first_free([odd], 100000)
    assert got.base >= odd.base + odd.size or got.base + got.size <= odd.base
    assert (got.base - 100000) % 65536 == 0


def test_first_free_fails_when_ids_run_out():
    top = IdRange(MAX_ID + 1 - 65536)
    with pytest.raises(Exception, match="no free user namespace range"):
        first_free([IdRange(100000)], top.base + 1)


def test_mappings_and_record_round_trip():
    r = IdRange(200000)
    assert r.to_oci() == [{"containerID": 0, "hostID": 200000, "size": 65536}]
    assert r.to_host(0) == 200000 and r.to_host(65535) == 265535
    with pytest.raises(InvalidArgument):
        r.to_host(65536)
    assert IdRange.from_dict(r.to_dict()) == r


def test_modes():
    assert parse_userns_mode("auto") == "auto" and parse_userns_mode("") == ""
    with pytest.raises(InvalidArgument):
        parse_userns_mode("keep-id")
    assert wants_userns("auto", False) and wants_userns("", True)
    assert not wants_userns("host", True) and not wants_userns("", False)
