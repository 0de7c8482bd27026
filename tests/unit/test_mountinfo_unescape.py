"""pouch.mount's reading of mountinfo fields (octal escapes), with its fast path for plain ones."""

from __future__ import annotations

import pytest

from pouch.mount import _unescape


@pytest.mark.parametrize("field, path", [
    ("/var/lib/pouch/containers/abc/rootfs", "/var/lib/pouch/containers/abc/rootfs"),
    ("/mnt/with\\040space", "/mnt/with space"),
    ("/a\\011tab\\012nl\\134back", "/a\ttab\nnl\\back"),
    ("/odd\\04", "/odd\\04"),
])
def test_unescape(field, path):
    assert _unescape(field) == path
