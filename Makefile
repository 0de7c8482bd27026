.PHONY: run test unit lint deps bench clean completion man deb

deps:
	scripts/install-deps.sh

# The main job: install, start pouchd, build the demo image, run a container.
run: deps
	scripts/demo.sh

# lint first: it takes seconds, and CI fails on a finding
test: deps lint
	.venv/bin/python -m pytest -q tests

# ruff and mypy (configured in pyproject.toml) over the package: zero findings
lint: deps
	.venv/bin/ruff check pouch tests
	.venv/bin/mypy

unit: deps
	.venv/bin/python -m pytest -q tests/unit

bench: deps
	.venv/bin/python bench/run_bench.py

# bash/zsh/fish completions and man pages, generated from the CLI's own flag definitions
completion: deps
	.venv/bin/python scripts/gen-completion.py build/completion

man: deps
	.venv/bin/python scripts/gen-man.py build/man

# build/pouch_VERSION_ARCH.deb (offline, dpkg-deb): pouch + pouchd in a venv under /usr/lib/pouch, the
# systemd units, completions and man pages; depends on Debian's runc, conmon, CNI plugins, iptables...
deb: deps
	.venv/bin/python scripts/build-deb.py build
