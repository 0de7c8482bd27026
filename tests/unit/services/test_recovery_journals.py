"""The journals recovery reads (services/pending.py, services/starting.py): what is written is
read back, and a torn or foreign file is not trusted."""

from __future__ import annotations

import os

import pytest

from pouch.models import NetworkAttachment
from pouch.services import starting
from pouch.services.pending import PendingRemovals, Removal, parse_marker

CID = "a" * 64
ATTACHMENT = NetworkAttachment(network="bridge", netns_path="/run/netns/x", ip_address="10.1.0.2", prefix_len=24)


def test_a_removal_is_read_back_with_its_network_and_volumes(tmp_path):
    journal = PendingRemovals(str(tmp_path))
    journal.mark(CID, ATTACHMENT, ("anon1", "anon2"))
    journal.mark("b" * 64, None, creating=True)
    assert list(journal.entries()) == [Removal(CID, ATTACHMENT, ("anon1", "anon2")), Removal("b" * 64, creating=True)]
    journal.clear(CID)
    journal.clear(CID)  # twice: nothing to do
    assert [r.container_id for r in journal.entries()] == ["b" * 64]


def test_a_torn_marker_is_dropped_and_an_unreadable_one_still_names_the_container(tmp_path):
    journal = PendingRemovals(str(tmp_path))
    os.makedirs(journal.directory)
    with open(os.path.join(journal.directory, CID + ".json.tmp"), "w") as f:
        f.write('{"netw')
    with open(os.path.join(journal.directory, "c" * 64 + ".json"), "w") as f:
        f.write("not json")
    assert list(journal.entries()) == [Removal("c" * 64)]
    assert os.listdir(journal.directory) == ["c" * 64 + ".json"]


@pytest.mark.parametrize("text", ["", "[]", '{"network": 3}', '{"network": null, "volumes": 5}'])
def test_parse_marker_of_nonsense(text):
    assert parse_marker(CID, text) == Removal(CID)


def test_a_start_is_journaled_read_back_and_cleared(tmp_path):
    cdir = str(tmp_path)
    assert starting.read(cdir) is None and not starting.exists(cdir)
    start = starting.Start(pid=42, conmon_pid=41, started_at="2026-12-08T04:00:00Z", attachment=ATTACHMENT)
    starting.mark(cdir, start)
    assert starting.exists(cdir) and starting.read(cdir) == start
    starting.clear(cdir)
    starting.clear(cdir)
    assert not starting.exists(cdir)


@pytest.mark.parametrize("text", ["", "{}", '{"pid": "x", "conmonPid": 1, "startedAt": ""}', "[1]"])
def test_an_unreadable_start_journal_adopts_nothing(text):
    assert starting.parse_start(text) is None
