"""Docker's JSON progress messages rendered from the engine's typed progress: the same
bytes pouchd sent before the engine stopped writing them itself."""

from pouch.api import progress_json as pj
from pouch.build.progress import BuildOutput, BuiltImage
from pouch.registry.progress import LayerProgress, PushResult


def registry(event) -> bytes:
    return pj.encode_registry(pj.registry_progress_json(event))


def test_pull_and_push_lines():
    assert registry(LayerProgress("Pulling from library/busybox", "latest")) == \
        b'{"status":"Pulling from library/busybox","progressDetail":{},"id":"latest"}\r\n'
    assert registry(LayerProgress("Already exists", "abc")) == \
        b'{"status":"Already exists","progressDetail":{},"id":"abc"}\r\n'
    assert registry(LayerProgress("Downloading", "abc", 500_000, 1_000_000)) == (
        b'{"status":"Downloading","progressDetail":{"current":500000,"total":1000000},'
        b'"progress":"[=========================>                        ]    500kB/1MB","id":"abc"}\r\n')
    assert registry(LayerProgress("Downloading", "abc", 5, 0)) == \
        b'{"status":"Downloading","progressDetail":{"current":5},"progress":"      5B","id":"abc"}\r\n'
    assert registry(LayerProgress("Pushing", "abc", 0, 10)) == (
        b'{"status":"Pushing","progressDetail":{"current":0,"total":10},'
        b'"progress":"[>                                                 ]       0B/10B","id":"abc"}\r\n')
    assert registry(LayerProgress("Digest: sha256:x")) == b'{"status":"Digest: sha256:x"}\r\n'
    assert registry(PushResult("latest", "sha256:d", 42)) == \
        b'{"progressDetail":{},"aux":{"Tag":"latest","Digest":"sha256:d","Size":42}}\r\n'
    assert pj.encode_registry(pj.error_json("boom")) == b'{"errorDetail":{"message":"boom"},"error":"boom"}\r\n'


def test_progress_bar():
    assert pj.progress_bar(1_000_000, 1_000_000) == "[" + "=" * 49 + ">]      1MB/1MB"
    assert pj.progress_bar(2_052_000, 0) == " 2.052MB"


def build(event) -> bytes:
    return pj.encode_build(pj.build_progress_json(event))


def test_build_lines():
    assert build(BuildOutput("Step 1/2 : FROM busybox\n")) == b'{"stream": "Step 1/2 : FROM busybox\\n"}\r\n'
    assert build(BuiltImage("sha256:abc")) == b'{"aux": {"ID": "sha256:abc"}}\r\n'
    assert build(LayerProgress("Downloading", "abc", 5, 10)) == (
        b'{"status": "Downloading", "progressDetail": {"current": 5, "total": 10}, '
        b'"progress": "[=========================>                        ]       5B/10B", "id": "abc"}\r\n')
    assert pj.encode_build(pj.error_json("The command '/bin/sh -c false' returned a non-zero code: 1", code=1)) == (
        b'{"errorDetail": {"message": "The command \'/bin/sh -c false\' returned a non-zero code: 1", "code": 1}, '
        b'"error": "The command \'/bin/sh -c false\' returned a non-zero code: 1"}\r\n')
    assert pj.encode_build(pj.error_json("x")) == b'{"errorDetail": {"message": "x"}, "error": "x"}\r\n'


def test_quiet_build_holds_the_output_back():
    events = [BuildOutput("Step 1/1 : FROM busybox\n"), BuiltImage("sha256:abc"), BuildOutput("Successfully built abc\n")]
    assert list(pj.build_lines(iter(events), quiet=True)) == [
        b'{"aux": {"ID": "sha256:abc"}}\r\n', b'{"stream": "sha256:abc\\n"}\r\n']
    assert list(pj.build_lines(iter(events), quiet=False)) == [
        b'{"stream": "Step 1/1 : FROM busybox\\n"}\r\n', b'{"aux": {"ID": "sha256:abc"}}\r\n',
        b'{"stream": "Successfully built abc\\n"}\r\n']


def test_quiet_build_failure_sends_what_was_held():
    def failing():
        yield BuildOutput("Step 1/1 : RUN false\n")
        raise RuntimeError("boom")

    out = []
    try:
        for line in pj.build_lines(failing(), quiet=True):
            out.append(line)
    except RuntimeError:
        pass
    assert out == [b'{"stream": "Step 1/1 : RUN false\\n"}\r\n']

