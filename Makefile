.PHONY: run test unit deps bench clean

deps:
	scripts/install-deps.sh

# The main job: install, start pouchd, build the demo image, run a container.
run: deps
	scripts/demo.sh

test: deps
	.venv/bin/python -m pytest -q tests

unit: deps
	.venv/bin/python -m pytest -q tests/unit

bench: deps
	.venv/bin/python bench/run_bench.py
