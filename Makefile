# attnkit: the README's commands. Nothing needed but Python 3.11 and the machine's tools.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
TORCH  := torch==2.13.0

.PHONY: setup setup-browser demo test bench bench-tag bench-classify bench-peers lint format clean

setup: $(STAMP)

# torch is installed first and pinned: a bare `torch` requirement would pull a CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e '.[dev]'
	touch $(STAMP)

# Debian's chromium for the explorer page's browser tests (tests/serve/test_browser.py skips
# them without it); apt-get needs root, as in CI. Does nothing when chromium is there.
setup-browser:
	@test -x /usr/bin/chromium || { export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q && apt-get install -y -q chromium; }

demo: setup
	$(VENV)/bin/attnkit demo $(DEMO_ARGS)

# pytest exits 5 when it collects nothing (e.g. a -k that matches no test): say so loudly
# rather than failing CI by accident; any failing test still fails the target.
test: setup
	@$(PY) -m pytest -n 2 -q $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "warning: pytest collected no tests"; exit 0; fi; exit $$rc

# Speed, side by side with torch (about 5 minutes on 2 CPU cores; `attnkit bench attention --quick`: 1).
bench: setup
	$(VENV)/bin/attnkit bench attention

# Quality on held-out data (long: trains every variant; resumable, rerun to continue).
bench-tag: setup
	$(VENV)/bin/attnkit bench tag

bench-classify: setup
	$(VENV)/bin/attnkit bench classify

# attnkit vs JoeyNMT 2.3.0 (its code fetched into the cache): speed, memory and quality at the
# 15-minute budget; needs `attnkit bench translate-arch` runs, trains JoeyNMT (about an hour).
bench-peers: setup
	$(VENV)/bin/attnkit bench peers

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples

format: setup
	$(VENV)/bin/ruff format src tests benchmarks examples
	$(VENV)/bin/ruff check --fix src tests benchmarks examples

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
