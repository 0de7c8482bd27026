"""The answers of image removal and the prunes: Docker's JSON, as pouchd sent it before
the engine returned typed reports."""

import json

from pouch.api import prune_json
from pouch.images.deleted import ImageDeleteItem, deleted, untagged
from pouch.images.prune import ImagePruneReport
from pouch.services.prune import PruneReport


def test_image_delete_items_in_order():
    items = [untagged("busybox:latest"), deleted("sha256:abc"), ImageDeleteItem(deleted="sha256:layer")]
    assert json.dumps(prune_json.image_delete_json(items)) == \
        '[{"Untagged": "busybox:latest"}, {"Deleted": "sha256:abc"}, {"Deleted": "sha256:layer"}]'


def test_image_prune():
    report = ImagePruneReport((untagged("a:1"), deleted("sha256:a")), 42)
    assert prune_json.image_prune_json(report) == {
        "ImagesDeleted": [{"Untagged": "a:1"}, {"Deleted": "sha256:a"}], "SpaceReclaimed": 42}
    assert prune_json.image_prune_json(ImagePruneReport((), 0)) == {"ImagesDeleted": None, "SpaceReclaimed": 0}


def test_container_and_build_cache_prune():
    assert prune_json.container_prune_json(PruneReport(("c1", "c2"), 7)) == \
        {"ContainersDeleted": ["c1", "c2"], "SpaceReclaimed": 7}
    assert prune_json.container_prune_json(PruneReport((), 0)) == {"ContainersDeleted": None, "SpaceReclaimed": 0}
    assert prune_json.build_cache_prune_json(PruneReport(("sha256:k",), 3)) == \
        {"CachesDeleted": ["sha256:k"], "SpaceReclaimed": 3}
    assert prune_json.build_cache_prune_json(PruneReport((), 0)) == {"CachesDeleted": None, "SpaceReclaimed": 0}
