import os

from pouch.services.logrotate import LogRotator, rotate, rotated_paths


def test_rotate_shifts_and_drops_the_oldest(tmp_path):
    log = str(tmp_path / "ctr.log")
    for generation in ("a", "b", "c", "d"):
        with open(log, "w") as f:
            f.write(generation)
        rotate(log, 3)
    assert not os.path.exists(log)
    assert open(log + ".1").read() == "d"
    assert open(log + ".2").read() == "c"
    assert not os.path.exists(log + ".3")
    assert rotated_paths(log, 3) == [log + ".2", log + ".1"]


def test_rotate_with_one_file_truncates(tmp_path):
    log = tmp_path / "ctr.log"
    log.write_text("old")
    rotate(str(log), 1)
    assert log.read_text() == ""


def test_rotator_rotates_only_logs_past_the_limit_and_asks_for_a_reopen(tmp_path):
    big, small = tmp_path / "big.log", tmp_path / "small.log"
    big.write_text("x" * 100)
    small.write_text("y")
    reopened = []
    rotator = LogRotator(50, 2, lambda: [("big", str(big)), ("small", str(small)), ("gone", str(tmp_path / "no"))],
                         reopened.append)
    rotator.check_once()
    assert reopened == ["big"]
    assert (tmp_path / "big.log.1").read_text() == "x" * 100 and not big.exists()
    assert small.read_text() == "y"
