# KeyPulse: `make run` serves the demo, `make test` runs the whole suite.
# Needs only Python 3.11+ and make; everything else goes into .venv.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 5000
export FLASK_APP := wsgi
# Survey links printed by `make run` point at the address it serves on.
export BASE_URL ?= http://$(HOST):$(PORT)
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install run test test-next-year lint format translations messages db-upgrade demo bench load clean \
	schema browser graphiql-assets

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) translations

# Compiled catalogs (.mo) are build output: made from the .po sources in git.
translations: $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -d web/translations -D messages --statistics 2>&1 | tail -n 2

# After changing user-facing strings: extract them into messages.pot, merge it into
# each catalog (new strings arrive untranslated, never fuzzy-guessed), list what is
# still untranslated, compile.
messages: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext --no-location \
		--sort-output --project KeyPulse -o web/translations/messages.pot .
	$(BIN)/pybabel -q update -i web/translations/messages.pot -d web/translations \
		-D messages --no-fuzzy-matching --ignore-obsolete
	@$(BIN)/python -c "from babel.messages.pofile import read_po; \
		c = read_po(open('web/translations/zh/LC_MESSAGES/messages.po', 'rb')); \
		todo = [m.id for m in c if m.id and not m.string]; \
		print(f'{len(todo)} untranslated'); [print('  ', t) for t in todo]"
	$(MAKE) --no-print-directory translations

db-upgrade: install
	KEYPULSE_ENV=$${KEYPULSE_ENV:-development} $(BIN)/flask db upgrade

# The demo's supplier is fictional (华信精密 / Huaxin Precision): its name, logo and
# contact on the survey pages and in the demo's e-mails. Set ORG_* to see your own.
DEMO_SUPPLIER := ORG_NAME_ZH="$${ORG_NAME_ZH-华信精密}" ORG_NAME_EN="$${ORG_NAME_EN-Huaxin Precision}" \
	ORG_LOGO="$${ORG_LOGO-survey/demo/huaxin-logo.svg}" \
	ORG_CONTACT="$${ORG_CONTACT-surveys@huaxin-precision.example}" \
	MAIL_FROM="$${MAIL_FROM-Huaxin Precision <surveys@huaxin-precision.example>}"

demo: db-upgrade
	KEYPULSE_ENV=$${KEYPULSE_ENV:-development} $(DEMO_SUPPLIER) $(BIN)/flask demo

run: demo
	KEYPULSE_ENV=$${KEYPULSE_ENV:-development} $(DEMO_SUPPLIER) \
		$(BIN)/flask run --host $(HOST) --port $(PORT)

# One pytest worker per core (pytest-xdist); PYTEST_ARGS=-n0 runs in one process.
test: install
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

# The suite again with the clock 400 days ahead (Debian's libfaketime), so a test that
# depends on the day it runs fails today rather than next month. Installs faketime when
# missing; says so and stops (exit 0) where it cannot. tests/faketime/ holds a shim
# for a libfaketime bug (time.sleep fails when the monotonic clock is left real).
# The browser checks (marker `browser`, a minute of the suite) run in `make test` only:
# they drive pages whose dates come from the same pinned test clock as the rest.
FAKETIME_SHIFT ?= +400d
test-next-year: install
	@command -v faketime >/dev/null 2>&1 || ($(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq --no-install-recommends faketime >/dev/null) || true
	@if command -v faketime >/dev/null 2>&1; then \
		echo "The suite with the clock moved $(FAKETIME_SHIFT): $$(faketime -f '$(FAKETIME_SHIFT)' date -u)"; \
		PYTHONPATH=tests/faketime FAKETIME_DONT_FAKE_MONOTONIC=1 \
			faketime -f '$(FAKETIME_SHIFT)' $(BIN)/python -m pytest -n auto \
			-m "not slow and not browser" $(PYTEST_ARGS); \
	else \
		echo "SKIPPED: faketime is not installed and could not be (apt-get install faketime)"; \
	fi

# Speed at scale against the floor of the stack (see benchmarks/harness.py):
# SQLite by default, PostgreSQL with BENCH_DATABASE_URL; BENCH_ARGS=--large for 1M answers.
bench: install
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# The full load test: gunicorn on a loopback port, 2,000 concurrent POSTs over 500
# invitations (also on PostgreSQL when TEST_DATABASE_URL is set); prints req/s and
# p50/p99. `make test` runs a short version of it.
load: install
	KEYPULSE_LOAD=full $(BIN)/python -m pytest -q -s -p no:randomly tests/test_load.py \
		-k concurrent_submissions $(PYTEST_ARGS)

# Debian's chromium (and CJK fonts for readable screenshots) for the browser test,
# tests/test_e2e_browser.py; `make test` skips that test when chromium is missing.
browser: install
	test -x /usr/bin/chromium || ($(SUDO) apt-get update && \
		$(SUDO) apt-get install -y --no-install-recommends chromium fonts-noto-cjk)

# GraphiQL (GET /graphql in development) is served from web/static/graphiql/, so it
# works offline and under the page's Content-Security-Policy. The versions live here
# only (strawberry's own GraphiQL page uses the same); `make graphiql-assets` fetches
# them from the npm registry and rewrites that directory. Needs npm.
GRAPHIQL_VERSION := 3.8.3
REACT_VERSION    := 18.2.0
GRAPHIQL_ASSETS  := web/static/graphiql
graphiql-assets:
	@command -v npm >/dev/null || (echo "npm is needed to fetch the GraphiQL assets" >&2; exit 1)
	set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	npm pack --silent --pack-destination "$$tmp" graphiql@$(GRAPHIQL_VERSION) \
		react@$(REACT_VERSION) react-dom@$(REACT_VERSION) >/dev/null; \
	for name in graphiql-$(GRAPHIQL_VERSION) react-$(REACT_VERSION) react-dom-$(REACT_VERSION); do \
		mkdir "$$tmp/$$name" && tar -xzf "$$tmp/$$name.tgz" -C "$$tmp/$$name"; \
	done; \
	rm -rf $(GRAPHIQL_ASSETS) && mkdir -p $(GRAPHIQL_ASSETS); \
	g="$$tmp/graphiql-$(GRAPHIQL_VERSION)/package"; \
	r="$$tmp/react-$(REACT_VERSION)/package"; \
	d="$$tmp/react-dom-$(REACT_VERSION)/package"; \
	cp "$$g/graphiql.min.js" "$$g/graphiql.min.css" $(GRAPHIQL_ASSETS)/; \
	cp "$$g/LICENSE" $(GRAPHIQL_ASSETS)/LICENSE.graphiql; \
	cp "$$r/umd/react.production.min.js" $(GRAPHIQL_ASSETS)/; \
	cp "$$r/LICENSE" $(GRAPHIQL_ASSETS)/LICENSE.react; \
	cp "$$d/umd/react-dom.production.min.js" $(GRAPHIQL_ASSETS)/; \
	cp "$$d/LICENSE" $(GRAPHIQL_ASSETS)/LICENSE.react-dom; \
	printf 'graphiql %s\nreact %s\nreact-dom %s\n' $(GRAPHIQL_VERSION) $(REACT_VERSION) \
		$(REACT_VERSION) > $(GRAPHIQL_ASSETS)/VERSIONS
	@ls -l $(GRAPHIQL_ASSETS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) instance/keypulse.sqlite3* .pytest_cache
