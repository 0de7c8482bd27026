"""Whole verbs through ``pouch.cli.main.main`` against the fake daemon."""

from __future__ import annotations

import os
import socket
import threading

from pouch.cli.main import main, resolve
from pouch.cli.stream import encode_frame, start_stdin_pump

CID = "f" * 64


def run(daemon, *argv):
    return main(["-H", daemon.host, *argv])


def upgrade_head():
    return (b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
            b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n")


HELLO_OOPS = (encode_frame(1, b"hello\n"), encode_frame(2, b"oops\n"))


def routes_for_run(daemon, helpers, exit_code=3, frames=HELLO_OOPS):
    started = threading.Event()
    daemon.route("POST", "/v1.41/containers/create", helpers.response(201, {"Id": CID, "Warnings": ["low memory"]}))

    def attach(req, conn):
        conn.sendall(upgrade_head())
        assert started.wait(5)
        for frame in frames:
            conn.sendall(frame)
        return None

    def wait(req, conn):
        assert started.wait(5)
        return helpers.response(200, {"StatusCode": exit_code, "Error": None})

    def start(req, conn):
        started.set()
        return helpers.response(204, reason="No Content")

    daemon.route("POST", f"/v1.41/containers/{CID}/attach", attach)
    daemon.route("POST", f"/v1.41/containers/{CID}/wait", wait)
    daemon.route("POST", f"/v1.41/containers/{CID}/start", start)
    daemon.route("POST", f"/v1.41/containers/{CID}/kill", helpers.response(204))


def test_run_attaches_and_waits_before_start(daemon, helpers, capsys):
    routes_for_run(daemon, helpers)
    code = run(daemon, "run", "--rm", "--name", "t1", "-e", "A=1", "busybox", "sh", "-c", "echo hello")
    out, err = capsys.readouterr()
    assert code == 3
    assert out == "hello\n" and "oops\n" in err and "WARNING: low memory" in err
    order = [(r.method, r.path.rsplit("/", 1)[-1]) for r in daemon.requests]
    assert order.index(("POST", "attach")) < order.index(("POST", "start"))
    assert order.index(("POST", "wait")) < order.index(("POST", "start"))
    create = daemon.find("POST", "/containers/create")[0]
    assert create.query == {"name": "t1"}
    assert create.json()["Cmd"] == ["sh", "-c", "echo hello"] and create.json()["HostConfig"]["AutoRemove"] is True
    assert daemon.find("POST", "/wait")[0].query == {"condition": "removed"}
    assert daemon.find("POST", "/attach")[0].query == {"stream": "1", "stdin": "0", "stdout": "1", "stderr": "1"}


def test_run_wait_condition_without_rm(daemon, helpers, capsys):
    routes_for_run(daemon, helpers, exit_code=0, frames=())
    assert run(daemon, "run", "busybox", "true") == 0
    assert daemon.find("POST", "/wait")[0].query == {"condition": "next-exit"}


def test_run_detached_prints_id(daemon, helpers, capsys):
    routes_for_run(daemon, helpers)
    assert run(daemon, "run", "-d", "busybox", "top") == 0
    assert capsys.readouterr().out == CID + "\n"
    assert not daemon.find("POST", "/attach")


def test_run_image_not_found(daemon, helpers, capsys):
    daemon.route("POST", "/v1.41/containers/create", helpers.error(404, "No such image: nope:latest"))
    assert run(daemon, "run", "--rm", "--pull", "never", "nope", "true") == 125
    err = capsys.readouterr().err
    assert err == "Error response from daemon: No such image: nope:latest\n"


def test_run_start_failure_exit_codes(daemon, helpers, capsys):
    routes_for_run(daemon, helpers)
    daemon.route("POST", f"/v1.41/containers/{CID}/start",
                 helpers.error(400, 'exec: "nope": executable file not found in $PATH'))
    daemon.route("POST", f"/v1.41/containers/{CID}/attach", upgrade_head())
    daemon.route("POST", f"/v1.41/containers/{CID}/wait", helpers.response(200, {"StatusCode": 127}))
    assert run(daemon, "run", "busybox", "nope") == 127
    assert "executable file not found" in capsys.readouterr().err


def test_bad_flag_value_exits_125(daemon, capsys):
    assert run(daemon, "run", "-p", "99999", "busybox") == 125
    assert "invalid containerPort: 99999" in capsys.readouterr().err


def test_create_prints_id(daemon, helpers, capsys):
    daemon.route("POST", "/v1.41/containers/create", helpers.response(201, {"Id": CID}))
    assert run(daemon, "container", "create", "-it", "busybox") == 0
    assert capsys.readouterr().out == CID + "\n"
    body = daemon.requests[0].json()
    assert body["OpenStdin"] and body["Tty"] and not body["StdinOnce"]


def test_start_attach(daemon, helpers, capsys):
    routes_for_run(daemon, helpers, exit_code=5)
    daemon.route("GET", "/v1.41/containers/web/json", {"Id": CID, "Config": {"Tty": False, "OpenStdin": False},
                                                       "HostConfig": {"AutoRemove": False}})
    assert run(daemon, "start", "-a", "web") == 5
    assert capsys.readouterr().out == "hello\n"


def test_ps(daemon, capsys):
    daemon.route("GET", "/v1.41/containers/json", [{
        "Id": CID, "Names": ["/web"], "Image": "nginx", "Command": "nginx", "Created": 0,
        "Status": "Exited (0) 2 minutes ago", "Ports": []}])
    assert run(daemon, "ps", "-a", "--filter", "status=exited") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("CONTAINER ID   IMAGE") and out[1].startswith("ffffffffffff   nginx")
    assert daemon.requests[0].query == {"all": "1", "filters": '{"status":["exited"]}'}
    assert run(daemon, "container", "ls", "-q", "--no-trunc") == 0
    assert capsys.readouterr().out == CID + "\n"
    assert run(daemon, "ps", "--format", "{{.Names}}: {{.Status}}") == 0
    assert capsys.readouterr().out == "web: Exited (0) 2 minutes ago\n"


def test_inspect_containers_then_images(daemon, helpers, capsys):
    daemon.route("GET", "/v1.41/containers/web/json", {"Id": CID, "State": {"Status": "running"}})
    daemon.route("GET", "/v1.41/containers/busybox/json", helpers.error(404, "No such container: busybox"))
    daemon.route("GET", "/v1.41/images/busybox/json", {"Id": "sha256:abc", "RepoTags": ["busybox:latest"]})
    daemon.route("GET", "/v1.41/containers/ghost/json", helpers.error(404, "No such container: ghost"))
    daemon.route("GET", "/v1.41/images/ghost/json", helpers.error(404, "No such image: ghost"))
    assert run(daemon, "inspect", "-f", "{{.Id}}", "web", "busybox") == 0
    assert capsys.readouterr().out == f"{CID}\nsha256:abc\n"
    assert run(daemon, "inspect", "web", "ghost") == 1
    out, err = capsys.readouterr()
    assert out.startswith('[\n    {\n        "Id": "fff') and err == "Error: No such object: ghost\n"
    assert run(daemon, "image", "inspect", "--format", "{{json .RepoTags}}", "busybox") == 0
    assert capsys.readouterr().out == '["busybox:latest"]\n'


def test_inspect_finds_networks_then_volumes_and_type_selects(daemon, helpers, capsys):
    for kind in ("containers", "images"):
        daemon.route("GET", f"/v1.41/{kind}/same/json", helpers.error(404, "not found"))
        daemon.route("GET", f"/v1.41/{kind}/data/json", helpers.error(404, "not found"))
    daemon.route("GET", "/v1.41/networks/same", {"Name": "same", "Driver": "bridge"})
    daemon.route("GET", "/v1.41/volumes/same", {"Name": "same", "Driver": "local"})
    daemon.route("GET", "/v1.41/networks/data", helpers.error(404, "network data not found"))
    daemon.route("GET", "/v1.41/volumes/data", {"Name": "data", "Driver": "local"})
    assert run(daemon, "inspect", "-f", "{{.Name}} {{.Driver}}", "same", "data") == 0  # docker's order: network first
    assert capsys.readouterr().out == "same bridge\ndata local\n"
    assert run(daemon, "inspect", "--type", "volume", "-f", "{{.Driver}}", "same") == 0
    assert capsys.readouterr().out == "local\n"
    assert run(daemon, "inspect", "--type", "network", "data") == 1
    assert capsys.readouterr().err == "Error: No such network: data\n"
    assert run(daemon, "inspect", "--type", "service", "data") != 0
    assert 'unknown type: "service": must be one of "container", "image", "network", "volume"' in capsys.readouterr().err


def test_rm_continues_after_errors(daemon, helpers, capsys):
    daemon.route("DELETE", "/v1.41/containers/a", helpers.response(204))
    daemon.route("DELETE", "/v1.41/containers/b", helpers.error(409, "cannot remove running container b"))
    assert run(daemon, "rm", "-f", "-v", "a", "b") == 1
    out, err = capsys.readouterr()
    assert out == "a\n" and err == "Error response from daemon: cannot remove running container b\n"
    assert daemon.requests[0].query == {"force": "1", "v": "1"}


def test_stop_kill_wait_rename(daemon, helpers, capsys):
    daemon.route("POST", "/v1.41/containers/a/stop", helpers.response(304, reason="Not Modified"))
    daemon.route("POST", "/v1.41/containers/a/kill", helpers.response(204))
    daemon.route("POST", "/v1.41/containers/a/wait", {"StatusCode": 137})
    daemon.route("POST", "/v1.41/containers/a/rename", helpers.response(204))
    assert run(daemon, "stop", "-t", "1", "a") == 0
    assert run(daemon, "kill", "-s", "TERM", "a") == 0
    assert run(daemon, "wait", "a") == 0
    assert run(daemon, "rename", "a", "b") == 0
    assert capsys.readouterr().out == "a\na\n137\n"
    assert [r.query for r in daemon.requests] == [{"t": "1"}, {"signal": "TERM"}, {}, {"name": "b"}]


def test_logs_demultiplexes(daemon, helpers, capsys):
    daemon.route("GET", "/v1.41/containers/web/json", {"Id": CID, "Config": {"Tty": False}})
    daemon.route("GET", f"/v1.41/containers/{CID}/logs",
                 helpers.chunked(200, [encode_frame(1, b"line1\n") + encode_frame(2, b"e"), encode_frame(2, b"rr\n")]))
    assert run(daemon, "logs", "--tail", "5", "-t", "web") == 0
    out, err = capsys.readouterr()
    assert out == "line1\n" and err == "err\n"
    assert daemon.requests[1].query == {"stdout": "1", "stderr": "1", "tail": "5", "timestamps": "1"}


def test_exec(daemon, helpers, capsys):
    daemon.route("POST", "/v1.41/containers/web/exec", helpers.response(201, {"Id": "e1"}))
    daemon.route("POST", "/v1.41/exec/e1/start", upgrade_head() + encode_frame(1, b"in exec\n"))
    daemon.route("GET", "/v1.41/exec/e1/json", {"Running": False, "ExitCode": 7})
    assert run(daemon, "exec", "-u", "root", "-w", "/", "-e", "X=1", "web", "sh", "-c", "exit 7") == 7
    assert capsys.readouterr().out == "in exec\n"
    body = daemon.requests[0].json()
    assert body["Cmd"] == ["sh", "-c", "exit 7"] and body["User"] == "root" and body["Env"] == ["X=1"]
    assert body["AttachStdout"] and not body["AttachStdin"]
    assert daemon.requests[1].json() == {"Detach": False, "Tty": False}


def test_images_and_rmi_and_tag(daemon, helpers, capsys):
    daemon.route("GET", "/v1.41/images/json", [{"Id": "sha256:" + "a" * 64, "RepoTags": ["busybox:latest"],
                                                "Created": 0, "Size": 4_261_000}])
    daemon.route("DELETE", "/v1.41/images/busybox", [{"Untagged": "busybox:latest"}, {"Deleted": "sha256:aaa"}])
    daemon.route("POST", "/v1.41/images/busybox/tag", helpers.response(201))
    assert run(daemon, "image", "ls") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"] and lines[1].endswith("4.26MB")
    assert run(daemon, "rmi", "busybox") == 0
    assert capsys.readouterr().out == "Untagged: busybox:latest\nDeleted: sha256:aaa\n"
    assert run(daemon, "tag", "busybox", "localhost:5000/bb") == 0
    assert daemon.requests[-1].query == {"repo": "localhost:5000/bb", "tag": "latest"}


def test_load_from_file(daemon, helpers, capsys, tmp_path):
    tarball = tmp_path / "bb.tar"
    tarball.write_bytes(b"tar-bytes" * 10000)
    daemon.route("POST", "/v1.41/images/load",
                 helpers.chunked(200, [b'{"stream":"Loaded image: busybox:latest\\n"}\n'],
                                 {"Content-Type": "application/json"}))
    assert run(daemon, "load", "-i", str(tarball)) == 0
    assert capsys.readouterr().out == "Loaded image: busybox:latest\n"
    assert daemon.requests[0].body == tarball.read_bytes()


def test_load_error_message(daemon, helpers, capsys, tmp_path):
    (tmp_path / "x.tar").write_bytes(b"junk")
    daemon.route("POST", "/v1.41/images/load", helpers.response(200, {"errorDetail": {"message": "bad tar"},
                                                                      "error": "bad tar"}))
    assert run(daemon, "load", "-i", str(tmp_path / "x.tar")) == 1
    assert capsys.readouterr().err == "bad tar\n"


def test_import(daemon, helpers, capsys, tmp_path):
    (tmp_path / "rootfs.tar").write_bytes(b"rootfs")
    daemon.route("POST", "/v1.41/images/create", helpers.response(200, {"status": "sha256:123"}))
    assert run(daemon, "import", "-c", "CMD [\"sh\"]", "-c", "ENV A=1", "-m", "hi",
               str(tmp_path / "rootfs.tar"), "myimg:v1") == 0
    assert capsys.readouterr().out == "sha256:123\n"
    req = daemon.requests[0]
    assert req.query == {"fromSrc": "-", "repo": "myimg", "tag": "v1", "message": "hi",
                         "changes": ['CMD ["sh"]', "ENV A=1"]}
    assert req.body == b"rootfs"


def test_version_without_daemon(tmp_path, capsys):
    code = main(["-H", f"unix://{tmp_path}/none.sock", "version"])
    out, err = capsys.readouterr()
    assert code == 1 and out.startswith("Client:\n Version:") and "Cannot connect to the Pouch daemon" in err


def test_version_and_info(daemon, capsys):
    daemon.route("GET", "/v1.41/version", {"Version": "0.1.0", "ApiVersion": "1.41", "MinAPIVersion": "1.24",
                                           "Os": "linux", "Arch": "amd64"})
    daemon.route("GET", "/v1.41/info", {"Containers": 2, "ContainersRunning": 1, "Images": 3, "MemTotal": 2 << 30,
                                        "ServerVersion": "0.1.0", "Driver": "overlay2",
                                        "DriverStatus": [["Backing Filesystem", "extfs"]],
                                        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"],
                                                    "Authorization": None, "Log": ["k8s-file"]},
                                        "Warnings": ["WARNING: No swap limit support"]})
    assert run(daemon, "version") == 0
    assert " API version:      1.41 (minimum version 1.24)" in capsys.readouterr().out
    assert run(daemon, "version", "-f", "{{.Server.Version}}") == 0
    assert capsys.readouterr().out == "0.1.0\n"
    assert run(daemon, "info") == 0
    out, err = capsys.readouterr()
    assert " Containers: 2\n  Running: 1\n" in out and "Total Memory: 2GiB" in out
    assert " Storage Driver: overlay2\n  Backing Filesystem: extfs\n" in out
    assert " Plugins:\n  Volume: local\n  Network: bridge host null\n  Log: k8s-file\n" in out
    assert "WARNING" not in out and err == "WARNING: No swap limit support\n"  # on stderr, as the docker CLI


def test_dispatch_and_usage(capsys, monkeypatch):
    assert resolve(["container", "ls", "-a"]) == ("ps", ["-a"])
    assert resolve(["image", "rm", "x"]) == ("rmi", ["x"])
    assert resolve(["image", "inspect", "x"]) == ("image-inspect", ["x"])
    assert resolve(["nope"]) is None and resolve(["image-inspect"]) is None
    assert main(["nope"]) == 1
    assert "'nope' is not a pouch command" in capsys.readouterr().err
    assert main(["start"]) == 1
    assert '"pouch start" requires at least 1 argument.' in capsys.readouterr().err
    assert main(["ps", "--bogus"]) == 125
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("Pouch version")
    assert main(["ps", "--help"]) == 0
    assert "Usage:  pouch ps [OPTIONS]" in capsys.readouterr().out
    # subcommands are named in full, aliases by their canonical name (as docker's cobra does)
    for argv, line in [(["network", "create"], "Usage:  pouch network create [OPTIONS] NETWORK"),
                       (["volume", "create"], "Usage:  pouch volume create [OPTIONS] [VOLUME]"),
                       (["system", "prune"], "Usage:  pouch system prune [OPTIONS]"),
                       (["container", "list"], "Usage:  pouch container ls [OPTIONS]"),
                       (["image", "remove"], "Usage:  pouch image rm [OPTIONS] IMAGE [IMAGE...]"),
                       (["container", "inspect"], "Usage:  pouch container inspect [OPTIONS] CONTAINER [CONTAINER...]")]:
        assert main([*argv, "--help"]) == 0
        assert capsys.readouterr().out.splitlines()[1] == line
    assert main(["volume", "rm"]) == 1
    err = capsys.readouterr().err
    assert err.startswith('"pouch volume rm" requires at least 1 argument.\nSee \'pouch volume rm --help\'.\n')
    assert main(["network", "create", "--bogus"]) == 125
    assert capsys.readouterr().err == "pouch: unknown flag: --bogus\nSee 'pouch network create --help'.\n"
    monkeypatch.setenv("POUCH_HOST", "unix:///nonexistent/pouch.sock")
    assert main(["ps"]) == 1
    assert "Cannot connect to the Pouch daemon at unix:///nonexistent/pouch.sock" in capsys.readouterr().err


def test_stdin_pump_half_closes():
    left, right = socket.socketpair()
    r, w = os.pipe()
    os.write(w, b"input data")
    os.close(w)
    thread = start_stdin_pump(left, r)
    thread.join(5)
    received = b""
    while chunk := right.recv(100):
        received += chunk
    assert received == b"input data"  # then EOF: the write side was shut down
    right.sendall(b"still open for output")  # the container's output direction stays usable
    assert left.recv(100) == b"still open for output"
    for s in (left, right):
        s.close()
    os.close(r)


def test_cli_import_budget():
    """The CLI must not import the engine, h11, http.client, argparse or dataclasses."""
    import subprocess
    import sys

    code = ("import sys; from pouch.cli.main import main; import pouch.cli.run, pouch.cli.containers, "
            "pouch.cli.images, pouch.cli.system; "
            "bad = [m for m in ('h11', 'http.client', 'argparse', 'dataclasses', 'typing', 'pouch.models', "
            "'pouch.config', 'pouch.errors', 'email') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_stdin_pump_detaches_on_the_keys():
    left, right = socket.socketpair()
    r, w = os.pipe()
    os.write(w, b"ls\x10\x11not sent")
    pump = start_stdin_pump(left, r, b"\x10\x11")
    pump.join(5)
    received = b""
    while chunk := right.recv(100):
        received += chunk
    assert received == b"ls" and pump.detached
    assert left.recv(100) == b""  # the output side ends too: the session is over
    for fd in (r, w):
        os.close(fd)
    for s in (left, right):
        s.close()
