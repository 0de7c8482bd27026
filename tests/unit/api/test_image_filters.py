"""``GET /images/json?filters=``: reference globs, dangling and label, as docker images --filter."""

from __future__ import annotations

import pytest

from pouch.api.image_json import filter_summaries, reference_matches
from pouch.errors import InvalidArgument

BUSYBOX = {"Id": "sha256:a", "RepoTags": ["busybox:latest", "example.com/team/bb:v2"], "Labels": {"team": "ops"}}
DANGLING = {"Id": "sha256:b", "RepoTags": [], "Labels": {}}
NONE_TAG = {"Id": "sha256:c", "RepoTags": ["<none>:<none>"], "Labels": None}
ALL = [BUSYBOX, DANGLING, NONE_TAG]


@pytest.mark.parametrize(("pattern", "tag", "expected"), [
    ("busybox", "busybox:latest", True),
    ("busybox:latest", "busybox:latest", True),
    ("busybox:lat*", "busybox:latest", True),
    ("busy*", "busybox:latest", True),
    ("busybox:1", "busybox:latest", False),
    ("example.com/team/bb", "example.com/team/bb:v2", True),
    ("*/bb", "example.com/team/bb:v2", False),  # * does not cross a slash
    ("*/*/bb:v?", "example.com/team/bb:v2", True),
    ("localhost:5000/x", "localhost:5000/x:1", True),
    ("bb", "example.com/team/bb:v2", False),
])
def test_reference_matches(pattern, tag, expected):
    assert reference_matches(pattern, tag) is expected


def test_no_filters_keeps_everything():
    assert filter_summaries({}, ALL) == ALL


def test_reference_filter():
    assert filter_summaries({"reference": ["busybox"]}, ALL) == [BUSYBOX]
    assert filter_summaries({"reference": ["nosuch", "example.com/*/bb:v2"]}, ALL) == [BUSYBOX]
    assert filter_summaries({"reference": ["nosuch"]}, ALL) == []


def test_dangling_filter():
    assert filter_summaries({"dangling": ["true"]}, ALL) == [DANGLING, NONE_TAG]
    assert filter_summaries({"dangling": ["false"]}, ALL) == [BUSYBOX]


def test_label_filter():
    assert filter_summaries({"label": ["team"]}, ALL) == [BUSYBOX]
    assert filter_summaries({"label": ["team=ops"]}, ALL) == [BUSYBOX]
    assert filter_summaries({"label": ["team=dev"]}, ALL) == []


@pytest.mark.parametrize("filters", [{"colour": ["red"]}, {"dangling": ["maybe"]}])
def test_unknown_filters_are_invalid(filters):
    with pytest.raises(InvalidArgument):
        filter_summaries(filters, ALL)
