# poolkit: the two commands of the README are `make report` and `make test`.
#
# Both create (or update) the virtual environment in $(VENV) with uv when it is on
# PATH, else with `python3 -m venv` + pip (which first installs uv into the venv:
# uv resolves and installs this stack in seconds, pip alone takes about a minute).
# Packages are byte-compiled at install time, so kernels and the CLI start fast
# even where PYTHONDONTWRITEBYTECODE is set.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
NAME ?= sample
PYTEST_ARGS ?= -n 2
SYSTEM_UV := $(shell command -v uv 2>/dev/null)
UV := $(if $(SYSTEM_UV),$(SYSTEM_UV),$(BIN)/uv)
KERNEL := poolkit

.PHONY: report test quick lab app bench venv install install-dev browser lint clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

venv: $(BIN)/python $(if $(SYSTEM_UV),,$(BIN)/uv)

$(VENV)/.installed: pyproject.toml | venv
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dask,app]'
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (poolkit)" >/dev/null
	touch $@

$(VENV)/.installed-dev: pyproject.toml | venv
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev,peers,dask,app,browser]'
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (poolkit)" >/dev/null
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

## make report: install poolkit and run every notebook on the bundled sample data into reports/$(NAME)/
report: install
	$(BIN)/poolkit report --name $(NAME)

## browser: Debian's chromium for the real-browser tests (installed when missing; needs root or sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

## make test: install poolkit with the test extras, lint and type-check it, and run the whole test suite
test: install-dev browser lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make quick: the fast loop (no notebook executions, no browser)
quick: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS) -m "not notebook and not browser and not slow"

## make lab: open the notebooks in JupyterLab (--allow-root only when running as root); explorers are live
lab: install
	POOLKIT_INTERACTIVE=1 $(BIN)/jupyter lab --notebook-dir=notebooks $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

## make app: serve the explorers (notebook 06) with Voila on 127.0.0.1, with an access token
app: install
	$(BIN)/poolkit app $(APP_ARGS)

## make bench: install the peer libraries (extra `bench`) and compare poolkit with them -> benchmarks/results.md
bench: install-dev
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[bench]'
	$(BIN)/python benchmarks/run.py

## make lint: ruff on the code, tests and benchmarks; mypy on the package
lint: install-dev
	$(BIN)/ruff check poolkit tests benchmarks
	$(BIN)/mypy poolkit

clean-venv:
	rm -rf $(VENV)
