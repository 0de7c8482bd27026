import pytest

from pouch.errors import InvalidArgument
from pouch.images.changes import apply_changes
from pouch.models import ImageConfig


@pytest.mark.parametrize(
    "changes,field,expected",
    [
        (['CMD ["sh", "-c", "echo hi"]'], "cmd", ("sh", "-c", "echo hi")),
        (["CMD echo hi there"], "cmd", ("/bin/sh", "-c", "echo hi there")),
        (["cmd []"], "cmd", ()),
        (["CMD [not json"], "cmd", ("/bin/sh", "-c", "[not json")),
        (['ENTRYPOINT ["/init"]'], "entrypoint", ("/init",)),
        (["ENTRYPOINT exec app"], "entrypoint", ("/bin/sh", "-c", "exec app")),
        (['ENV A=1 B="two words" C='], "env", ("A=1", "B=two words", "C=")),
        (["ENV PATH /usr/bin:/bin"], "env", ("PATH=/usr/bin:/bin",)),
        (["ENV MSG hello world"], "env", ("MSG=hello world",)),
        (["ENV A=1", "ENV A=2"], "env", ("A=2",)),
        (["WORKDIR /app", "WORKDIR sub/../x"], "working_dir", "/app/x"),
        (["WORKDIR rel"], "working_dir", "/rel"),
        (["USER 1000:1000"], "user", "1000:1000"),
        (["EXPOSE 80 53/udp 8000-8001"], "exposed_ports", ("53/udp", "80/tcp", "8000/tcp", "8001/tcp")),
        (['LABEL a=b "c d"="e f"'], "labels", {"a": "b", "c d": "e f"}),
        (["LABEL maintainer someone <x@y>"], "labels", {"maintainer": "someone <x@y>"}),
        (["STOPSIGNAL SIGINT"], "stop_signal", "SIGINT"),
        (["STOPSIGNAL 9"], "stop_signal", "9"),
        (['VOLUME ["/data", "/logs"]'], "volumes", ("/data", "/logs")),
        (["VOLUME /a /b"], "volumes", ("/a", "/b")),
    ],
)
def test_changes(changes, field, expected):
    assert getattr(apply_changes(changes), field) == expected


def test_env_replaces_in_place_as_a_dockerfile_env():
    base = ImageConfig(env=("PATH=/bin", "A=0", "Z=9"))
    assert apply_changes(["ENV A=1 B=2"], base).env == ("PATH=/bin", "A=1", "Z=9", "B=2")


def test_entrypoint_resets_cmd_unless_cmd_given_in_changes():
    base = ImageConfig(cmd=("old",))
    assert apply_changes(["ENTRYPOINT /x"], base).cmd is None
    cfg = apply_changes(['CMD ["a"]', 'ENTRYPOINT ["b"]'], base)
    assert (cfg.cmd, cfg.entrypoint) == (("a",), ("b",))


def test_result_serialises_to_oci():
    cfg = apply_changes(['CMD ["sh"]', "ENV A=1", "EXPOSE 80"])
    assert cfg.to_oci() == {"Cmd": ["sh"], "Env": ["A=1"], "ExposedPorts": {"80/tcp": {}}}


@pytest.mark.parametrize(
    "change,message",
    [
        ("RUN echo", "RUN is not a valid change command"),
        ("FROM busybox", "FROM is not a valid change command"),
        ("ONBUILD RUN x", "ONBUILD is not a valid change command"),
        ("ENV A=1 B", "can't find = in 'B'"),
        ("ENV A", "must have two arguments"),
        ("EXPOSE 80/foo", "invalid proto"),
        ("EXPOSE 70000", "invalid port"),
        ("STOPSIGNAL SIGNOPE", "Invalid signal"),
        ("CMD", "requires at least one argument"),
        ("", "empty change"),
    ],
)
def test_invalid_changes(change, message):
    with pytest.raises(InvalidArgument) as exc:
        apply_changes([change])
    assert message in exc.value.message
