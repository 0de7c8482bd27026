import pytest

from pouch.errors import InvalidArgument
from pouch.reference import familiar, normalize, parse_reference

NORMALIZE = [
    ("busybox", "docker.io/library/busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox:latest"),
    ("docker.io/busybox", "docker.io/library/busybox:latest"),
    ("index.docker.io/library/busybox:x", "docker.io/library/busybox:x"),
    ("user/app", "docker.io/user/app:latest"),
    ("user/team/app:v1", "docker.io/user/team/app:v1"),
    ("localhost/app", "localhost/app:latest"),
    ("localhost:5000/a/b:t", "localhost:5000/a/b:t"),
    ("quay.io/coreos/etcd:v3.5", "quay.io/coreos/etcd:v3.5"),
    ("Registry.Example.com/a", "Registry.Example.com/a:latest"),
    ("[::1]:5000/x:y", "[::1]:5000/x:y"),
    ("a_b-c__d/x.y", "docker.io/a_b-c__d/x.y:latest"),
    ("busybox@sha256:" + "a" * 64, "docker.io/library/busybox@sha256:" + "a" * 64),
    ("busybox:1@sha256:" + "b" * 64, "docker.io/library/busybox:1@sha256:" + "b" * 64),
]


@pytest.mark.parametrize("text,expected", NORMALIZE)
def test_normalize(text, expected):
    assert normalize(text) == expected


FAMILIAR = [
    ("docker.io/library/busybox:latest", "busybox:latest"),
    ("busybox", "busybox"),
    ("docker.io/user/app:v1", "user/app:v1"),
    ("docker.io/library/a/b:t", "library/a/b:t"),
    ("localhost:5000/a/b:t", "localhost:5000/a/b:t"),
    ("docker.io/library/busybox@sha256:" + "a" * 64, "busybox@sha256:" + "a" * 64),
]


@pytest.mark.parametrize("text,expected", FAMILIAR)
def test_familiar(text, expected):
    assert familiar(text) == expected


INVALID = [
    ("", "invalid reference format"),
    ("Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase"),
    ("user/App:1", "invalid reference format: repository name (user/App) must be lowercase"),
    ("busybox:", "invalid reference format"),
    ("busybox:a:b", "invalid reference format"),
    ("-busybox", "invalid reference format"),
    ("busy//box", "invalid reference format"),
    ("busybox@sha256:abc", "invalid reference format"),
    ("busybox@", "invalid reference format"),
    (":tag", "invalid reference format"),
    ("busybox:" + "t" * 129, "invalid reference format"),
    ("a" * 64, "cannot specify 64-byte hexadecimal strings"),
    ("x/" + "a" * 260, "must not be more than 255 characters"),
    ("busy box", "invalid reference format"),
]


@pytest.mark.parametrize("text,message", INVALID)
def test_invalid(text, message):
    with pytest.raises(InvalidArgument) as exc:
        parse_reference(text)
    assert message in exc.value.message
    assert exc.value.status == 400


def test_parts():
    ref = parse_reference("localhost:5000/a/b:t")
    assert (ref.domain, ref.path, ref.tag, ref.digest) == ("localhost:5000", "a/b", "t", "")
    assert ref.name == "localhost:5000/a/b"
    assert parse_reference("busybox").tag == ""  # no default tag until asked
    assert str(parse_reference("busybox").with_default_tag()) == "docker.io/library/busybox:latest"
