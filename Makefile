# Two commands matter: `make run` (install, train if needed, start) and `make test`.
PY        ?= python3.11
VENV      := .venv
RASA_VENV := .venv-rasa
LOCK_VENV := .venv-lock
UV        := uv==0.13.9
PIP_QUIET := --quiet --disable-pip-version-check --no-input
# pip warns once per missing local index folder on some machines; keep progress readable.
# pipefail keeps pip's own failure visible through the filter.
SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -ec
FILTER      := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }

# pytest-xdist with three workers on the two cores: most of the long tests wait on real
# processes (Rasa, the service, Chromium), so a third worker fills the cores (4:44 vs 5:52
# with two, docs/performance.md). Redis test databases suit at most three
# (tests/scratch.py). PYTEST_WORKERS=0 runs one process, e.g. to debug.
PYTEST_WORKERS ?= 3
PYTEST := $(VENV)/bin/python -m pytest -q $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist worksteal)

# The pages' browser tests drive these; Debian's packages unless told otherwise.
CHROMIUM     ?= /usr/bin/chromium
CHROMEDRIVER ?= /usr/bin/chromedriver
export CHROMIUM CHROMEDRIVER
BROWSER_PACKAGES := chromium chromium-driver

.PHONY: run test install install-rasa install-browser lock train lint typecheck unit e2e bench clean

run: install install-rasa train
	$(VENV)/bin/outage-bot serve --demo

test: install install-rasa install-browser
	@echo "==> lint and types"
	$(MAKE) --no-print-directory lint typecheck
	@echo "==> tests"
	$(PYTEST)

unit: install
	$(PYTEST) -m "not e2e"

e2e: install install-rasa install-browser
	$(PYTEST) -m e2e

install: $(VENV)/.installed

# Exactly the versions (and files, by hash) in requirements.lock; then our package alone.
$(VENV)/.installed: requirements.lock pyproject.toml
	@echo "==> installing the app environment into $(VENV) (about a minute on a fresh machine)"
	test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_QUIET) --require-hashes -r requirements.lock $(FILTER)
	$(VENV)/bin/pip install $(PIP_QUIET) --no-deps -e . $(FILTER)
	$(VENV)/bin/python -c "import bot, aiohttp, sqlmodel, telegram, tweepy, rasa_sdk"
	touch $@

install-rasa: $(RASA_VENV)/.installed

$(RASA_VENV)/.installed: intents/requirements-rasa.txt pyproject.toml
	@echo "==> installing Rasa 3.6.21 into $(RASA_VENV) (2.5 GB, a few minutes on a fresh machine)"
	test -x $(RASA_VENV)/bin/python || $(PY) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/pip install $(PIP_QUIET) --progress-bar off -r intents/requirements-rasa.txt $(FILTER)
	$(RASA_VENV)/bin/pip install $(PIP_QUIET) --no-deps --ignore-requires-python rasa==3.6.21 rasa-sdk==3.6.2 $(FILTER)
	@# Our package without its dependencies: Rasa's NLU imports bot.locations.locator (intents/location_entities.py).
	$(RASA_VENV)/bin/pip install $(PIP_QUIET) --no-deps -e . $(FILTER)
	$(RASA_VENV)/bin/rasa --version
	touch $@

# Headless Chromium for tests/web/test_*_page.py; installed only where it is missing.
install-browser:
	@if [ -x "$(CHROMIUM)" ] && [ -x "$(CHROMEDRIVER)" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "make: the browser tests need Chromium and ChromeDriver: install $(BROWSER_PACKAGES) as root, or set CHROMIUM and CHROMEDRIVER" >&2; \
	  exit 1; \
	fi; \
	echo "==> installing Chromium and ChromeDriver for the browser tests (Debian packages, about a minute)"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get install -y -q --no-install-recommends $(BROWSER_PACKAGES) \
	  || { apt-get update -q && apt-get install -y -q --no-install-recommends $(BROWSER_PACKAGES); }

# Resolve pyproject.toml's dependencies (with the test extra) into requirements.lock,
# keeping the pinned versions that still fit; `make lock UPGRADE=--upgrade` takes the newest.
lock:
	test -x $(LOCK_VENV)/bin/python || $(PY) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install $(PIP_QUIET) '$(UV)' $(FILTER)
	$(LOCK_VENV)/bin/uv pip compile pyproject.toml --extra test --generate-hashes --universal \
	  --python-version 3.11 --custom-compile-command 'make lock' --quiet $(UPGRADE) \
	  -o requirements.lock

train: install install-rasa
	$(VENV)/bin/outage-bot train

lint:
	$(VENV)/bin/ruff check bot tests bench intents
	$(VENV)/bin/ruff format --check bot tests bench intents
	$(VENV)/bin/vulture

typecheck:
	$(VENV)/bin/mypy bot

bench: install install-rasa
	$(VENV)/bin/python bench/locations.py
	$(VENV)/bin/python bench/incident_lookup.py
	$(VENV)/bin/python bench/telegram_channel.py
	$(VENV)/bin/python bench/x_channel.py
	$(VENV)/bin/python bench/chat_throughput.py

clean:
	rm -rf $(VENV) $(RASA_VENV) $(LOCK_VENV) var intents/models
