# adaptive-robo — `make demo` and `make test` work on a fresh machine with only Python 3.11.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=
# setuptools prints an "Editable installation" box (information only: its meta-path finder for a flat layout)
# on every editable install; this filter hides that one message and nothing else.
EDITABLE := PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -e

.PHONY: demo test browser bench lint docs clean wheel

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install when pyproject.toml changes.
$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(EDITABLE) .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(EDITABLE) '.[test,bench]'
	touch $@ $(VENV)/.installed-demo

$(VENV)/.installed-docs: pyproject.toml | $(BIN)/python
	$(EDITABLE) '.[docs]'
	touch $@

demo: $(VENV)/.installed-demo
	$(BIN)/robo demo

# The HTML report's test and the web service's browser tests drive Debian's headless Chromium (through Playwright,
# no browser download). This is the one step that installs a system package, and only when asked: `make browser`
# says what it does, installs `chromium` with apt-get when it runs as root and the browser is missing, and
# otherwise tells you how (those tests skip without it, and fail in CI).
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
	  echo "browser: chromium is installed ($$(command -v chromium || command -v chromium-browser))"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "browser: installing Debian's chromium package with apt-get (needed by the report's and the web service's browser tests)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null && \
	  echo "browser: installed $$(command -v chromium)"; \
	else \
	  echo "browser: chromium is missing; install it (Debian/Ubuntu: sudo apt-get install chromium) or the browser tests skip"; \
	fi

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

bench: $(VENV)/.installed-test
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# ruff; mypy, strict, on the scope in pyproject's [tool.mypy]; the import contracts of docs/DESIGN.md.
lint: $(VENV)/.installed-test
	$(BIN)/ruff check engine brokers backtests robo service tests benchmarks examples docs/hooks
	$(BIN)/mypy
	$(BIN)/lint-imports

# The documentation site (mkdocs.yml), strict: a warning, a broken link or a nav entry without its page fails.
docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict   # not --quiet: it hides the warnings strict counts

wheel: $(VENV)/.installed-demo
	$(BIN)/python -m pip wheel --no-deps -w dist .

clean:
	rm -rf $(VENV) dist build site *.egg-info .pytest_cache .mypy_cache
