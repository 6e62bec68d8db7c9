# The two commands a newcomer types: `make test` and `make compare`; `make serve LAYER=raw_socket` for a browser.
# `make help` lists every target. The set-up (the venv) first installs the Debian packages the tests need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the catalog's layers, comma-separated (bench/catalog.py, read when a recipe needs it); make serve's default LAYER is
# the first of them
LAYERS = $(shell $(BIN)/python -m bench.catalog)
comma := ,
LAYER ?= $(firstword $(subst $(comma), ,$(LAYERS)))
MODEL ?=
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help test lint check serve compare knobs readme-chart readme bench-reference readme-reference reference-env bench-cgi syscalls cpu-profile explain sweep readme-sweep report-docs jpg clean

$(STAMP): pyproject.toml tools/system_deps.sh
	bash tools/system_deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	touch $(STAMP)

help:  ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:[^#]*## /\t/' | expand -t 18

test: lint  ## set-up, lint and types, then the whole suite on both cores: unit, live on every layer and model, corpus, browser, stress
	$(BIN)/python -m pytest -n auto --dist loadgroup

lint: $(STAMP)  ## ruff and mypy, as pyproject.toml configures them (mypy strict on the servers' packages)
	$(BIN)/ruff check .
	$(BIN)/mypy

check: $(STAMP)  ## the quick check: the raw-request corpus on every layer and model, side by side (seconds)
	$(BIN)/python -m pytest -n auto tests/test_conformance.py

serve: $(STAMP)  ## one server in the foreground: make serve LAYER=http_server_impl MODEL=forking (no MODEL: the layer's default)
	$(BIN)/server-layers serve $(LAYER) $(if $(MODEL),--model $(MODEL) )--port $(PORT)

compare: $(STAMP)  ## the main job: conformance matrix, the layers measured in interleaved rounds, the report (<5 min)
	$(BIN)/server-layers compare

knobs: $(STAMP)  ## the knob matrix on every layer (its default model) and stock http.server, then its report: results/knobs-<UTC stamp>/
	out=results/knobs-$$(date -u +%Y%m%dT%H%M%SZ) && \
	$(BIN)/server-layers bench --layers $(LAYERS),stock_http_server \
		--scenario plaintext --users 8 --duration 5s --repeat 3 --knobs all --out $$out && \
	$(BIN)/server-layers report $$out

readme-chart: $(STAMP)  ## a fresh compare run becomes the README's answer: docs/results/compare/, docs/img/, the block
	rm -rf results/readme
	$(BIN)/server-layers compare --out results/readme
	$(BIN)/python -m reports.readme results/readme

readme: $(STAMP)  ## re-render the README's answer and charts from the committed docs/results/compare/ (no measuring)
	$(BIN)/python -m reports.readme

report-docs: $(STAMP)  ## re-render docs/report/ (report.html to open offline) from the committed docs/results/ (no measuring)
	rm -rf docs/report
	$(BIN)/server-layers report docs/results/compare --sweep docs/results/sweep/sweep.json --out docs/report/compare
	$(BIN)/server-layers report docs/results/explain --out docs/report/explain

reference-env: $(STAMP)  ## uvicorn, gunicorn, granian, Flask and FastAPI in .venv-reference: the reference rows and columns (make test runs without it)
	$(BIN)/python -c "from bench.reference_servers import ensure_venv; ensure_venv()"

bench-reference: $(STAMP)  ## wrk side by side: our servers, uvicorn, gunicorn, granian and the framework apps (.venv-reference), stock http.server, the floor
	$(BIN)/python -m bench.reference --seconds 6 --repeat 5 $(if $(BASELINE),--baseline $(BASELINE))

readme-reference: $(STAMP)  ## a fresh bench-reference run becomes the README's reference block (docs/results/reference/)
	rm -rf results/reference-readme
	$(BIN)/python -m bench.reference --seconds 6 --repeat 5 --out results/reference-readme
	$(BIN)/python -m reports.readme --reference results/reference-readme

bench-cgi: $(STAMP)  ## what a process per request costs: /plaintext beside the CGI scripts, every layer and stock CGI (~10 min)
	out=results/cgi-$$(date -u +%Y%m%dT%H%M%SZ) && \
	$(BIN)/python -m server_layers.cgi_cost --rate 20 --repeat 3 --duration 6s --out $$out && \
	$(BIN)/server-layers report $$out

explain: $(STAMP)  ## why each layer costs what it costs: make explain RUN=results/<compare run> (strace, /proc + py-spy, reference columns, then its report; ~10 min on 2 cores, the CPU profile most of it)
	@test -n "$(RUN)" || { echo "make explain: give RUN=results/<a compare or bench run>" >&2; exit 2; }
	$(BIN)/server-layers explain $(RUN)

syscalls: $(STAMP)  ## system calls per request (strace); RUN=results/<bench run> puts syscalls.json there and re-renders its report
	out=$${RUN:-results/syscalls-$$(date -u +%Y%m%dT%H%M%SZ)} && $(BIN)/python -m bench.syscalls --out $$out && \
	if [ -f $$out/results.json ]; then $(BIN)/server-layers report $$out; fi

cpu-profile: $(STAMP)  ## where the CPU goes (/proc + py-spy, flame graphs); RUN=results/<bench run> puts cpu.json there and re-renders its report (~3 min)
	out=$${RUN:-results/cpu-$$(date -u +%Y%m%dT%H%M%SZ)} && $(BIN)/python -m bench.cpu_profile --out $$out && \
	if [ -f $$out/results.json ]; then $(BIN)/server-layers report $$out; fi

sweep: $(STAMP)  ## cost against load: every variant from 25 req/s to saturation; RUN=results/<compare run> puts sweep.json there (~8 min)
	out=$${RUN:-results/sweep-$$(date -u +%Y%m%dT%H%M%SZ)} && $(BIN)/server-layers sweep --out $$out && \
	if [ -f $$out/results.json ]; then $(BIN)/server-layers report $$out; fi

readme-sweep: $(STAMP)  ## a fresh sweep becomes the README's cost-against-load block (docs/results/sweep/)
	rm -rf results/sweep-readme
	$(BIN)/server-layers sweep --out results/sweep-readme
	$(BIN)/python -m reports.readme --sweep results/sweep-readme

jpg: $(STAMP)  ## regenerate webapp/static/test.jpg (needs Pillow, the `dev` extra)
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python tools/make_test_jpg.py

clean:  ## remove the venv and the caches
	rm -rf $(VENV) .venv-reference .pytest_cache .hypothesis *.egg-info
