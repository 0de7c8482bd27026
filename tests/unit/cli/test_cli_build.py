import io
import os
import tarfile

from pouch.cli.build import build_args, build_params, context_tar


def test_build_args_and_params():
    assert build_args(["A=1", "B", "C"], {"B": "from-env"}) == {"A": "1", "B": "from-env"}
    params = build_params({"tag": ["x:1"], "build_arg": ["A=1"], "no_cache": True, "rm": True, "label": ["k=v"]},
                          "Dockerfile", {})
    assert params["t"] == ["x:1"] and params["buildargs"] == {"A": "1"} and params["nocache"] == "1"
    assert params["labels"] == {"k": "v"} and params["rm"] is None and params["target"] is None


def test_context_tar_honours_dockerignore(tmp_path):
    ctx = tmp_path / "ctx"
    (ctx / "logs").mkdir(parents=True)
    (ctx / "Dockerfile").write_text("FROM busybox\n")
    (ctx / ".dockerignore").write_text("logs\n*.tmp\nDockerfile\n")
    (ctx / "logs" / "a.log").write_text("x")
    (ctx / "keep.txt").write_text("k")
    (ctx / "x.tmp").write_text("t")
    outside = tmp_path / "Other.dockerfile"
    outside.write_text("FROM scratch\n")
    body, name = context_tar(str(ctx), None)
    with tarfile.open(fileobj=io.BytesIO(body.read())) as tf:
        names = sorted(tf.getnames())
    assert names == [".dockerignore", "Dockerfile", "keep.txt"] and name == "Dockerfile"
    body, name = context_tar(str(ctx), str(outside))
    with tarfile.open(fileobj=io.BytesIO(body.read())) as tf:
        assert name in tf.getnames() and tf.extractfile(name).read() == b"FROM scratch\n"
    body, name = context_tar(str(ctx), os.path.join(str(ctx), "keep.txt"))
    assert name == "keep.txt"
