"""One environment rule (``pouch.oci.env``) for the process, inspect's ``Config.Env`` and
``commit``: they must agree."""

import pytest

from pouch.api.container_json import container_config
from pouch.errors import InvalidArgument
from pouch.images.commit import container_image_config
from pouch.models import Container, CreateOptions, ImageConfig
from pouch.oci.env import container_env, merge_env
from pouch.oci.spec import resolve_env

IMAGE = ImageConfig(env=("PATH=/usr/bin:/bin", "A=0", "NGINX_VERSION=1.25"), cmd=("sh",))
DAEMON_OWN = {"HOSTNAME", "container", "TERM"}


def _process_env_without_daemon_own(env: tuple[str, ...]) -> list[str]:
    process = resolve_env(CreateOptions(image="x", env=env), IMAGE, "host")
    return [e for e in process if e.partition("=")[0] not in DAEMON_OWN]


@pytest.mark.parametrize("env", [
    ("A=1", "B=2"),
    ("NGINX_VERSION",),  # a bare NAME unsets the image's variable
    ("NOT_SET_ANYWHERE",),  # -e NAME, NAME unset in the client's environment: nothing
    ("B=1", "B=2"),  # the last value wins
    ("A=1", "A"),  # set, then unset
    ("A", "A=3"),  # unset, then set again
])
def test_inspect_commit_and_process_agree(env):
    c = Container(id="c" * 64, name="x", image_id="sha256:" + "f" * 64, image_ref="x", created="",
                  options=CreateOptions(image="x", env=env))
    process = _process_env_without_daemon_own(env)
    assert container_config(c, IMAGE)["Env"] == process
    assert list(container_image_config(c.options, IMAGE).env) == process


@pytest.mark.parametrize(("base", "overrides", "expected"), [
    (["A=1", "B=2"], ["B=3", "C=4"], ["A=1", "B=3", "C=4"]),  # replaced in place, new ones appended
    (["A=1", "B=2"], ["A"], ["B=2"]),  # a bare name unsets
    (["A=1"], ["NOPE"], ["A=1"]),  # ... and sets nothing
    (["A=1", "B=2"], ["A", "A=3"], ["A=3", "B=2"]),  # unset, then set again: back in its place
    ([], ["X=1", "X=2", "X=3"], ["X=3"]),  # duplicates: the last wins
    ([], ["X=1", "X"], []),
    (["A=1"], ["A=", "B=x=y"], ["A=", "B=x=y"]),  # empty values and '=' in values are values
])
def test_merge_env_is_dockerds_replace_or_append(base, overrides, expected):
    assert merge_env(base, overrides) == expected


def test_merge_env_rejects_an_empty_name():
    with pytest.raises(InvalidArgument, match="=x"):
        merge_env([], ["=x"])


def test_container_env_is_image_then_container():
    assert container_env(("PATH=/bin", "A=0"), ("B=1", "A=2")) == ["PATH=/bin", "A=2", "B=1"]
