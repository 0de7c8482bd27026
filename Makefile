.PHONY: run test unit lint deps bench clean

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
