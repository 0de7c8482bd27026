import json

from pouch.api.image_json import image_inspect, image_summary
from pouch.images.record import ImageRecord

CONFIG = {
    "architecture": "amd64",
    "os": "linux",
    "created": "2024-05-06T07:08:09.123456789Z",
    "comment": "imported",
    "config": {"Cmd": ["sh"], "Env": ["A=1"], "Labels": {"k": "v"}, "ExposedPorts": {"80/tcp": {}}},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64, "sha256:" + "2" * 64]},
}
RECORD = ImageRecord(
    id="sha256:" + "a" * 64,
    repo_tags=("docker.io/library/busybox:latest", "localhost:5000/x/y:t"),
    repo_digests=("docker.io/library/busybox@sha256:" + "b" * 64,),
    created=CONFIG["created"],
    size=1234,
    config=CONFIG,
    chain_id="sha256:" + "c" * 64,
    layer_dirs=("/s/2/fs", "/s/1/fs"),
)


def test_summary():
    s = image_summary(RECORD)
    assert s == {
        "Id": RECORD.id,
        "ParentId": "",
        "RepoTags": ["busybox:latest", "localhost:5000/x/y:t"],
        "RepoDigests": ["busybox@sha256:" + "b" * 64],
        "Created": 1714979289,
        "Size": 1234,
        "VirtualSize": 1234,
        "SharedSize": -1,
        "Labels": {"k": "v"},
        "Containers": -1,
    }
    json.dumps(s)


def test_inspect():
    i = image_inspect(RECORD)
    assert i["Id"] == RECORD.id and i["RepoTags"] == ["busybox:latest", "localhost:5000/x/y:t"]
    assert i["Created"] == "2024-05-06T07:08:09.123456789Z" and i["Comment"] == "imported"
    assert i["Config"]["Cmd"] == ["sh"] and i["Config"]["Env"] == ["A=1"] and i["Config"]["Entrypoint"] is None
    assert i["Config"]["ExposedPorts"] == {"80/tcp": {}} and i["Config"]["Tty"] is False
    assert (i["Architecture"], i["Os"], i["Size"]) == ("amd64", "linux", 1234)
    assert i["RootFS"] == {"Type": "layers", "Layers": CONFIG["rootfs"]["diff_ids"]}
    assert i["GraphDriver"] == {"Name": "overlay2", "Data": {"UpperDir": "/s/2/fs", "LowerDir": "/s/1/fs"}}
    assert i["Metadata"] == {"LastTagTime": "0001-01-01T00:00:00Z"}
    for key in ("Parent", "Container", "ContainerConfig", "DockerVersion", "Author", "VirtualSize"):
        assert key in i


def test_docker_py_models_parse():
    import docker.models.images as m

    img = m.Image(attrs=image_inspect(RECORD))
    assert img.tags == ["busybox:latest", "localhost:5000/x/y:t"]
    assert img.short_id == "sha256:" + "a" * 12
    assert img.labels == {"k": "v"}
