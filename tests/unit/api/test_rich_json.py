import pytest

from pouch.api.rich_json import rich_config_fields, rich_from_docker, rich_host_config_fields
from pouch.errors import InvalidArgument
from pouch.models import CreateOptions, RichMode


def test_rich_round_trip():
    rich, lxcfs = rich_from_docker({"Rich": True, "RichMode": "dumb-init", "InitScript": "/i.sh",
                                    "PrestartHooks": ["a"], "PoststopHooks": ["b"]},
                                   {"OpsDir": "/srv/ops", "EnableLxcfs": True})
    assert rich.mode is RichMode.DUMB_INIT and rich.init_script == "/i.sh" and lxcfs is True
    opts = CreateOptions(image="x", rich=rich, enable_lxcfs=lxcfs)
    assert rich_config_fields(opts) == {"Rich": True, "RichMode": "dumb-init", "InitScript": "/i.sh",
                                        "PrestartHooks": ["a"], "PoststopHooks": ["b"]}
    assert rich_host_config_fields(opts) == {"OpsDir": "/srv/ops", "EnableLxcfs": True}


def test_plain_container():
    assert rich_from_docker({}, {}) == (None, False)
    assert rich_config_fields(CreateOptions(image="x"))["Rich"] is False


def test_rich_alone_means_dumb_init():
    assert rich_from_docker({"Rich": True}, {})[0].mode is RichMode.DUMB_INIT


@pytest.mark.parametrize("body,host,message", [
    ({"RichMode": "systemd"}, {}, "--rich-mode needs --rich"),
    ({"InitScript": "/x"}, {}, "--initscript needs --rich"),
    ({}, {"OpsDir": "/o"}, "--ops-dir needs --rich"),
    ({"Rich": True, "RichMode": "runit"}, {}, "unknown rich mode 'runit'"),
    ({"Rich": True, "InitScript": "relative.sh"}, {}, "absolute path"),
    ({"Rich": True, "PrestartHooks": "echo"}, {}, "list"),
    ({"Rich": "yes"}, {}, "boolean"),
])
def test_refusals(body, host, message):
    with pytest.raises(InvalidArgument, match=message):
        rich_from_docker(body, host)
