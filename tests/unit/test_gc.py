"""The pure mark-and-sweep of garbage collection (pouch/gc.py): what is reached from the roots
stays, everything else is garbage, and work in progress never is."""

from __future__ import annotations

from pouch.gc import ContainerRefs, GcFacts, ImageRefs, SnapshotFact, find_garbage, reachable_chains

A, B, C, D = ("sha256:" + ch * 64 for ch in "abcd")
SNAPS = {"c1": SnapshotFact("", "1"), "c2": SnapshotFact("c1", "2"), "c3": SnapshotFact("c2", "3"),
         "x1": SnapshotFact("", "4"), "x2": SnapshotFact("x1", "5")}


def test_reachable_chains_walks_parents():
    assert reachable_chains(["c2"], SNAPS) == {"c1", "c2"}
    assert reachable_chains(["", "nope"], SNAPS) == set()


def test_nothing_referenced_is_all_garbage_children_first():
    g = find_garbage(GcFacts(blobs=frozenset({A, B}), snapshots=SNAPS))
    assert g.blobs == (A, B)
    assert g.chains.index("c3") < g.chains.index("c2") < g.chains.index("c1")
    assert g.chains.index("x2") < g.chains.index("x1")


def test_an_image_keeps_its_blobs_and_its_stack():
    facts = GcFacts(images=(ImageRefs(frozenset({A, B}), "c2"),), blobs=frozenset({A, B, C}), snapshots=SNAPS,
                    snapshot_dirs=frozenset({"1", "2", "3", "4", "5"}))
    g = find_garbage(facts)
    assert g.blobs == (C,)
    assert set(g.chains) == {"c3", "x1", "x2"}
    assert g.snapshot_dirs == ()  # every directory has a row; rows go with their directories


def test_a_container_keeps_its_dirs_its_layers_and_its_deleted_images_config():
    facts = GcFacts(containers=(ContainerRefs("ctr1", A, frozenset({"x2"})),), blobs=frozenset({A, B}),
                    snapshots=SNAPS, container_dirs=frozenset({"ctr1", "gone"}), rw_dirs=frozenset({"ctr1", "gone"}))
    g = find_garbage(facts)
    assert g.blobs == (B,)
    assert set(g.chains) == {"c1", "c2", "c3"}
    assert (g.container_dirs, g.rw_dirs) == (("gone",), ("gone",))


def test_leases_and_work_in_progress_are_not_garbage():
    facts = GcFacts(lease_blobs=frozenset({A, C}), lease_chains=frozenset({"c1"}), blobs=frozenset({A, B}),
                    snapshots=SNAPS, snapshot_dirs=frozenset({"1", "9", "10"}), busy_snapshot_dirs=frozenset({"10"}),
                    ingest=frozenset({"write-abc", "write-def", A[7:] + ".partial", B[7:] + ".partial"}),
                    busy_ingest=frozenset({"write-def"}))
    g = find_garbage(facts)
    assert g.blobs == (B,)
    assert "c1" not in g.chains
    assert g.snapshot_dirs == ("9",)  # no row, not being unpacked
    assert g.ingest == (B[7:] + ".partial", "write-abc")  # A's download belongs to a pull in progress


def test_stale_tmp_entries_are_garbage():
    g = find_garbage(GcFacts(tmp=frozenset({"load-x", "commit-y"})))
    assert g.tmp == ("commit-y", "load-x")
    assert g
    assert not find_garbage(GcFacts())


def test_a_containers_set_aside_layer_is_its_own():
    """``pouch upgrade`` sets the old writable layer aside as ``<id>.upgrade-old`` (and its dir)."""
    facts = GcFacts(containers=(ContainerRefs("ctr1"),), container_dirs=frozenset({"ctr1.upgrade-old", "gone.x"}),
                    rw_dirs=frozenset({"ctr1.upgrade-old", "ctr1", "gone.upgrade-old"}))
    g = find_garbage(facts)
    assert (g.container_dirs, g.rw_dirs) == (("gone.x",), ("gone.upgrade-old",))
