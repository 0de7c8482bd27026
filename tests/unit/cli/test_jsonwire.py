import json
import subprocess
import sys

import pytest

from pouch.cli import jsonwire

SAMPLES = [
    {"Image": "busybox", "Cmd": ["sh", "-c", "echo 'hi' \"there\""], "Env": ["A=ü€"], "Tty": False,
     "HostConfig": {"Memory": 0, "CpuShares": None, "Binds": [], "Nested": {"x": 1.5, "y": -2}}},
    [], {}, "text", 0, -7, 3.25, True, False, None, ["\u2603", "\x00\x1f", "\\"],
    {"big": 2**70, "float": 1e300, "tiny": 5e-324},
]


@pytest.mark.parametrize("obj", SAMPLES)
def test_dumps_matches_the_json_package(obj):
    assert jsonwire.dumps(obj) == json.dumps(obj)
    assert jsonwire.dumps(obj, compact=True) == json.dumps(obj, separators=(",", ":"))
    assert jsonwire.dumps(obj, ensure_ascii=False) == json.dumps(obj, ensure_ascii=False)


@pytest.mark.parametrize("obj", SAMPLES)
def test_loads_round_trips_what_the_json_package_writes(obj):
    text = json.dumps(obj, ensure_ascii=False)
    assert jsonwire.loads(text) == obj
    assert jsonwire.loads(text.encode()) == obj
    assert jsonwire.loads(f" \n{text}\r\n ") == obj


def test_loads_reads_the_constants_like_json():
    assert jsonwire.loads("[Infinity, -Infinity]") == [float("inf"), float("-inf")]
    assert jsonwire.loads("NaN") != jsonwire.loads("NaN")  # nan


@pytest.mark.parametrize("text", ["", "   ", "{", "[1,]", '{"a": 1} x', "nul", '"unterminated'])
def test_bad_json_raises_the_json_packages_error(text):
    with pytest.raises(json.JSONDecodeError):
        jsonwire.loads(text)


def test_unserializable_objects_raise_type_error():
    with pytest.raises(TypeError, match="set is not JSON serializable"):
        jsonwire.dumps({"a": {1, 2}})


def test_importing_it_does_not_import_re_or_enum():
    code = "import sys; import pouch.cli.jsonwire; print(sorted({'re', 'enum', 'json'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-S", "-c", f"import sys; sys.path[:0] = {sys.path!r}; {code}"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
