"""Tables, human units, templates and stream framing (pure)."""

from __future__ import annotations

import io

import pytest

from pouch.cli.format import (
    TemplateError,
    bytes_size,
    display_ports,
    ellipsis,
    human_duration,
    human_size,
    images_table,
    ps_table,
    render_template,
    split_repo_tag,
    table,
)
from pouch.cli.stream import FrameDecoder, copy_output, encode_frame


@pytest.mark.parametrize("secs, text", [
    (0.5, "Less than a second"), (1, "1 second"), (3, "3 seconds"), (59, "59 seconds"), (60, "About a minute"),
    (119, "About a minute"), (120, "2 minutes"), (3599, "59 minutes"), (3600, "About an hour"), (5400, "2 hours"),
    (47 * 3600, "47 hours"), (48 * 3600, "2 days"), (14 * 86400, "2 weeks"), (60 * 86400, "2 months"),
    (800 * 86400, "2 years"),
])
def test_human_duration(secs, text):
    assert human_duration(secs) == text


@pytest.mark.parametrize("size, text", [
    (0, "0B"), (999, "999B"), (1000, "1kB"), (4_261_000, "4.26MB"), (1_234_567_890, "1.23GB"), (72_800_000, "72.8MB"),
    (5_000_000, "5MB"),
])
def test_human_size(size, text):
    assert human_size(size) == text


def test_bytes_size():
    assert bytes_size(2 * 1024 ** 3) == "2GiB" and bytes_size(8_345_000_000) == "7.772GiB"


def test_ellipsis():
    assert ellipsis("short", 20) == "short"
    assert ellipsis("sh -c 'while true; do sleep 1; done'", 20) == "sh -c 'while true; …"
    assert len(ellipsis("x" * 50, 20)) == 20


def test_table_layout_like_tabwriter():
    assert table(["CONTAINER ID", "IMAGE", "NAMES"], []) == "CONTAINER ID   IMAGE     NAMES\n"
    out = table(["A", "B"], [["loooooooong", "x"]])
    assert out == "A             B\nloooooooong   x\n"


def test_ps_table():
    now = 1_000_000.0
    containers = [{
        "Id": "0123456789abcdef0123", "Names": ["/web"], "Image": "nginx:latest",
        "Command": "nginx -g 'daemon off;'", "Created": now - 3, "Status": "Up 2 seconds",
        "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
                  {"PrivatePort": 443, "Type": "tcp"}],
    }]
    lines = ps_table(containers, now).splitlines()
    assert lines[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    row = lines[1]
    assert row.startswith("0123456789ab   nginx:latest   \"nginx -g 'daemon of…\"   3 seconds ago   Up 2 seconds   ")
    assert "   443/tcp, 0.0.0.0:8080->80/tcp   " in row and row.endswith("web")  # docker's order: ranges first
    assert '"nginx -g \'daemon off;\'"' in ps_table(containers, now, trunc=False)


def test_display_ports_sorted_and_deduplicated():
    ports = [{"PrivatePort": 53, "Type": "udp"}, {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
             {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
             {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}]
    assert display_ports(ports) == "53/udp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"


def test_display_ports_collapses_ranges_per_host_ip_as_docker_does():
    """What the docker 28 CLI prints for `-p 18000-18002:80-82 -p 19000-19001:19000-19001
    -p 127.0.0.1:17000-17001:17000-17001 -p 127.0.0.1:17003:6000 --expose 15000-15001
    -p 18053:53/udp -p 19003:19003` (checked against pouchd's API)."""
    def pub(private, public, ip="0.0.0.0", proto="tcp"):
        return {"IP": ip, "PrivatePort": private, "PublicPort": public, "Type": proto}

    ports = [pub(80, 18000), pub(81, 18001), pub(82, 18002), pub(19000, 19000), pub(19001, 19001),
             pub(17000, 17000, "127.0.0.1"), pub(17001, 17001, "127.0.0.1"), pub(6000, 17003, "127.0.0.1"),
             pub(53, 18053, proto="udp"), pub(19003, 19003),
             {"PrivatePort": 15000, "Type": "tcp"}, {"PrivatePort": 15001, "Type": "tcp"}]
    assert display_ports(ports) == (
        "0.0.0.0:19000-19001->19000-19001/tcp, 15000-15001/tcp, 127.0.0.1:17000-17001->17000-17001/tcp, "
        "0.0.0.0:19003->19003/tcp, 0.0.0.0:18053->53/udp, 0.0.0.0:18000->80/tcp, 0.0.0.0:18001->81/tcp, "
        "0.0.0.0:18002->82/tcp, 127.0.0.1:17003->6000/tcp")
    # one range per host IP, IPv4 and IPv6 alike
    both = [pub(p, p, ip) for ip in ("0.0.0.0", "::") for p in (8000, 8001, 8002)]
    assert display_ports(both) == "0.0.0.0:8000-8002->8000-8002/tcp, :::8000-8002->8000-8002/tcp"
    assert display_ports([pub(80, 80, proto="udp"), pub(81, 81), pub(82, 82, proto="udp")]) == \
        "0.0.0.0:80->80/udp, 0.0.0.0:82->82/udp, 0.0.0.0:81->81/tcp"  # a broken run is closed first, as docker
    assert display_ports([]) == ""


def test_images_table():
    now = 1_000_000.0
    images = [
        {"Id": "sha256:" + "ab" * 32, "RepoTags": ["busybox:latest", "localhost:5000/bb:1"], "Created": now - 86400 * 3,
         "Size": 4_261_000},
        {"Id": "sha256:" + "cd" * 32, "RepoTags": None, "Created": now - 7200, "Size": 999},
    ]
    lines = images_table(images, now).splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert lines[1].split() == ["busybox", "latest", "abababababab", "3", "days", "ago", "4.26MB"]
    assert lines[2].split()[:2] == ["localhost:5000/bb", "1"]
    assert lines[3].split()[:3] == ["<none>", "<none>", "cdcdcdcdcdcd"]


def test_split_repo_tag():
    assert split_repo_tag("busybox") == ("busybox", "<none>")
    assert split_repo_tag("localhost:5000/app") == ("localhost:5000/app", "<none>")
    assert split_repo_tag("localhost:5000/app:v1") == ("localhost:5000/app", "v1")


DATA = {"Id": "abc", "State": {"Status": "running", "Running": True, "Pid": 42, "ExitCode": 0},
        "Config": {"Env": ["A=1"], "Labels": {"x.y": "z"}, "Cmd": None},
        "NetworkSettings": {"IPAddress": "192.168.5.2"}, "Created": 1.5}


@pytest.mark.parametrize("template, out", [
    ("{{.State.Status}}", "running"),
    ("{{.Id}}", "abc"),
    ("{{json .Config}}", '{"Env":["A=1"],"Labels":{"x.y":"z"},"Cmd":null}'),
    ("{{.NetworkSettings.IPAddress}}", "192.168.5.2"),
    ("id={{ .Id }} pid={{.State.Pid}} up={{.State.Running}}", "id=abc pid=42 up=true"),
    ("{{.Config.Cmd}} {{.Config.Env}} {{.Config.Labels.nope}}", "<nil> [A=1] <no value>"),
    ('{{index .Config.Labels "x.y"}}', "z"),
    ("{{json .State.Status}}", '"running"'),
    ("{{upper .State.Status}}", "RUNNING"),
    ('{{join .Config.Env ","}}', "A=1"),
    ("{{.Created}}", "1.5"),
    ("{{.State}}", "map[ExitCode:0 Pid:42 Running:true Status:running]"),
    ("a {{- .Id -}} b", "aabcb"),
])
def test_templates(template, out):
    assert render_template(template, DATA) == out


@pytest.mark.parametrize("template", ["{{.Id", "{{nosuch .Id}}", "{{.Id.Deeper}}", "{{}}", "{{.Missing}}"])
def test_template_errors(template):
    with pytest.raises(TemplateError):
        render_template(template, DATA)


# --- stream framing ---------------------------------------------------------

def test_frame_decoder_handles_split_frames():
    data = encode_frame(1, b"out") + encode_frame(2, b"err!") + encode_frame(1, b"")
    dec = FrameDecoder()
    frames = []
    for i in range(len(data)):  # one byte at a time
        frames += dec.feed(data[i:i + 1])
    assert frames == [(1, b"out"), (2, b"err!"), (1, b"")] and dec.pending == 0
    big = b"x" * 70000
    assert FrameDecoder().feed(encode_frame(1, big)) == [(1, big)]


def test_copy_output_demuxes_or_passes_raw():
    out, err = io.BytesIO(), io.BytesIO()
    copy_output([encode_frame(1, b"a")[:5], encode_frame(1, b"a")[5:] + encode_frame(2, b"b")],
                tty=False, stdout=out, stderr=err)
    assert (out.getvalue(), err.getvalue()) == (b"a", b"b")
    out = io.BytesIO()
    copy_output([b"\x01raw\r\n"], tty=True, stdout=out, stderr=err)
    assert out.getvalue() == b"\x01raw\r\n"
