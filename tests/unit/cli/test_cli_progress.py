"""The CLI's rendering of the pull/push JSON lines the daemon sends."""

from pouch.cli.progress import PlainLog, ProgressBoard

DOWNLOADING = {"status": "Downloading", "progressDetail": {"current": 500_000, "total": 1_000_000},
               "progress": "[" + "=" * 25 + ">" + " " * 24 + "]    500kB/1MB", "id": "abc"}


def layer(status: str, ident: str) -> dict:
    return {"status": status, "progressDetail": {}, "id": ident}


def test_plain_log_writes_a_line_when_a_status_changes():
    plain = PlainLog()
    assert plain.update(DOWNLOADING) == "abc: Downloading\n"
    assert plain.update(DOWNLOADING) == ""
    assert plain.update(layer("Pull complete", "abc")) == "abc: Pull complete\n"
    assert plain.update({"status": "Digest: sha256:x"}) == "Digest: sha256:x\n"


def test_board_rewrites_a_layer_line_in_place():
    board = ProgressBoard()
    assert board.update(layer("Pulling fs layer", "a")) == "a: Pulling fs layer\n"
    assert board.update(layer("Pulling fs layer", "b")) == "b: Pulling fs layer\n"
    assert board.update(layer("Pull complete", "a")) == "\x1b[2A\r\x1b[2Ka: Pull complete\r\x1b[2B"
    assert board.update(DOWNLOADING) == "abc: Downloading " + DOWNLOADING["progress"] + "\n"
