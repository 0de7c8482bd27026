#!/usr/bin/env python3
"""``make deb``: a Debian package of Pouch, built offline with dpkg-deb from this tree and its .venv.

What it installs:

- /usr/lib/pouch/venv: a Python venv on Debian's python3 (bin/python3 links to /usr/bin/python3),
  with the pouch package (bytecode compiled) and its runtime dependencies (grpcio, h11, isal,
  protobuf, zstandard: copied from .venv, built for this Python);
- /usr/bin/pouch (the lean ``python -S`` launcher install-deps.sh writes) and /usr/bin/pouchd;
- /usr/libexec/pouch/dumb-init, the static build of install-deps.sh (rich containers' pid 1);
- /lib/systemd/system/pouchd.service and pouchd.socket (contrib/systemd);
- bash, zsh and fish completions and the man pages, generated from the CLI's flag definitions;
- /etc/pouch/daemon.json ({}; a conffile);

and it depends on the Debian packages Pouch runs (runc, conmon, the CNI plugins, iptables...).
The postinst makes the ``pouch`` group (the API socket's) and enables the socket and the service.

    scripts/build-deb.py [OUTDIR]   (default build/) -> OUTDIR/pouch_VERSION_ARCH.deb
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tomllib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from pouch import __version__  # noqa: E402

BUILD_ONLY = {"grpcio-tools"}  # generates the CRI stubs at build time; the package ships the generated modules


def runtime_dependencies() -> list[str]:
    """pyproject's dependencies by name, without those only the build needs."""
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        declared = tomllib.load(f)["project"]["dependencies"]
    names = [re.split(r"[=<>!~ \[;]", spec, maxsplit=1)[0] for spec in declared]
    return [name for name in names if name not in BUILD_ONLY]


DEPENDS = ["runc", "conmon", "containernetworking-plugins", "iptables", "iproute2", "util-linux", "procps",
           "busybox-static", "dumb-init", "catatonit", "adduser"]
RECOMMENDS = ["crun", "lxcfs", "tini", "btrfs-progs"]
SUGGESTS = ["runsc", "docker-compose"]
PY = f"python{sys.version_info.major}.{sys.version_info.minor}"
VENV = "/usr/lib/pouch/venv"
SITE = f"{VENV}/lib/{PY}/site-packages"

POSTINST = """#!/bin/sh
set -e
if [ "$1" = configure ]; then
    getent group pouch >/dev/null || addgroup --system pouch
fi
if [ -d /run/systemd/system ] && [ "$1" = configure ]; then
    systemctl daemon-reload >/dev/null || true
    systemctl enable pouchd.socket pouchd.service >/dev/null || true
    systemctl start pouchd.socket >/dev/null || true
fi
"""
PRERM = """#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    systemctl stop pouchd.socket pouchd.service >/dev/null || true  # containers keep running under conmon
    systemctl disable pouchd.socket pouchd.service >/dev/null || true
fi
"""
POUCH_LAUNCHER = f"""#!{VENV}/bin/python3 -S
# the pouch CLI: only the standard library and the pouch package, so no site (see scripts/install-deps.sh)
import sys
sys.path.insert(0, "{SITE}")
from pouch.cli.main import main
sys.exit(main())
"""
POUCHD_LAUNCHER = f"""#!{VENV}/bin/python3
import sys
from pouch.daemon import main
sys.exit(main())
"""


def _run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def _dependency_closure(names: list[str]) -> list[importlib.metadata.Distribution]:
    found: dict[str, importlib.metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in found:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # a requirement for another platform (cffi on PyPy...)
        found[key] = dist
        todo += [re.split(r"[ ;<>=!~\[(]", r, maxsplit=1)[0] for r in dist.requires or [] if "extra ==" not in r]
    return list(found.values())


def stage_python(root: str) -> None:
    venv = root + VENV
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--symlinks", venv], check=True)
    for name in os.listdir(os.path.join(venv, "bin")):  # activate scripts name the staging path: not shipped
        if not name.startswith("python"):
            os.unlink(os.path.join(venv, "bin", name))
    with open(os.path.join(venv, "pyvenv.cfg")) as f:
        cfg = [line for line in f if not line.startswith("command")]
    with open(os.path.join(venv, "pyvenv.cfg"), "w") as f:
        f.writelines(cfg)
    site = root + SITE
    for dist in _dependency_closure(runtime_dependencies()):
        base = str(dist.locate_file(""))
        for entry in dist.files or []:
            if str(entry).startswith(".."):
                continue  # console scripts: not needed
            source = os.path.join(base, str(entry))
            if "__pycache__" in str(entry) or not os.path.isfile(source):
                continue
            target = os.path.join(site, str(entry))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(source, target)
    shutil.copytree(os.path.join(REPO, "pouch"), os.path.join(site, "pouch"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-s", root, "-p", "/", site], check=True,
                   stdout=subprocess.DEVNULL)


def stage_files(root: str) -> None:
    def write(path: str, text: str, mode: int = 0o644) -> None:
        target = root + path
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as f:
            f.write(text)
        os.chmod(target, mode)

    write("/usr/bin/pouch", POUCH_LAUNCHER, 0o755)
    write("/usr/bin/pouchd", POUCHD_LAUNCHER, 0o755)
    write("/etc/pouch/daemon.json", "{}\n")
    for unit in ("pouchd.service", "pouchd.socket"):
        os.makedirs(root + "/lib/systemd/system", exist_ok=True)
        shutil.copy(os.path.join(REPO, "contrib", "systemd", unit), root + "/lib/systemd/system/" + unit)
    dumb_init = os.path.join(REPO, ".venv", "libexec", "pouch", "dumb-init")
    if os.path.exists(dumb_init):
        os.makedirs(root + "/usr/libexec/pouch", exist_ok=True)
        shutil.copy2(dumb_init, root + "/usr/libexec/pouch/dumb-init")
    generated = os.path.join(root, "..", "generated")
    _run(sys.executable, os.path.join(REPO, "scripts", "gen-completion.py"), generated + "/completion")
    _run(sys.executable, os.path.join(REPO, "scripts", "gen-man.py"), generated + "/man")
    places = {"bash/pouch": "/usr/share/bash-completion/completions/pouch",
              "bash/pouchd": "/usr/share/bash-completion/completions/pouchd",
              "zsh/_pouch": "/usr/share/zsh/vendor-completions/_pouch",
              "zsh/_pouchd": "/usr/share/zsh/vendor-completions/_pouchd",
              "fish/pouch.fish": "/usr/share/fish/vendor_completions.d/pouch.fish",
              "fish/pouchd.fish": "/usr/share/fish/vendor_completions.d/pouchd.fish"}
    for source, target in places.items():
        os.makedirs(os.path.dirname(root + target), exist_ok=True)
        shutil.copy(os.path.join(generated, "completion", source), root + target)
    for section in ("man1", "man8"):
        target = f"{root}/usr/share/man/{section}"
        os.makedirs(target, exist_ok=True)
        for name in sorted(os.listdir(os.path.join(generated, "man", section))):
            with open(os.path.join(generated, "man", section, name), "rb") as src:
                _gzip(src.read(), os.path.join(target, name + ".gz"))
    shutil.rmtree(generated)


def _gzip(data: bytes, path: str) -> None:
    result = subprocess.run(["gzip", "-9n"], input=data, capture_output=True, check=True)
    with open(path, "wb") as f:
        f.write(result.stdout)


def stage_control(root: str, arch: str) -> None:
    debian = os.path.join(root, "DEBIAN")
    os.makedirs(debian, exist_ok=True)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(root) for f in files) // 1024
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    depends = [f"python3 (>= {py})", f"python3 (<< {sys.version_info.major}.{sys.version_info.minor + 1})",
               "libc6", *DEPENDS]
    control = {
        "Package": "pouch", "Version": __version__, "Architecture": arch, "Section": "admin", "Priority": "optional",
        "Maintainer": "Pouch developers <pouch@localhost>", "Installed-Size": str(size),
        "Depends": ", ".join(depends), "Recommends": ", ".join(RECOMMENDS), "Suggests": ", ".join(SUGGESTS),
        "Description": "Docker-compatible container engine with rich containers\n"
                       " pouchd serves the Docker Engine API (docker CLI, docker-py, compose) and the Kubernetes\n"
                       " CRI; containers run under conmon with runc or another OCI runtime, and may boot\n"
                       " systemd or an init as in a virtual machine (rich containers).",
    }
    with open(os.path.join(debian, "control"), "w") as f:
        f.write("".join(f"{k}: {v}\n" for k, v in control.items()))
    with open(os.path.join(debian, "conffiles"), "w") as f:
        f.write("/etc/pouch/daemon.json\n")
    for name, text in (("postinst", POSTINST), ("prerm", PRERM)):
        path = os.path.join(debian, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)


def main(outdir: str) -> str:
    arch = _run("dpkg", "--print-architecture").strip()
    work = os.path.join(outdir, "deb")
    root = os.path.join(work, f"pouch_{__version__}_{arch}")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(root)
    stage_python(root)
    stage_files(root)
    stage_control(root, arch)
    deb = os.path.join(outdir, f"pouch_{__version__}_{arch}.deb")
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", root, deb], check=True,
                   stdout=subprocess.DEVNULL)
    shutil.rmtree(work)
    return deb


if __name__ == "__main__":
    print(main(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "build"))))
