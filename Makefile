# adaptive-llm-local: `make demo` and `make test` set everything up from a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
MODEL  := models/SmolLM2-135M-Instruct.Q4_1.gguf

.DEFAULT_GOAL := help
.PHONY: help install models demo test test-fast bench lint doctor slurm clean-index clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@echo "Installing (llama-cpp-python compiles once, ~5 min on 2 cores; pip caches the wheel)…"
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the package (no rebuild when nothing changed)

$(MODEL): | $(STAMP)
	$(PY) -m adaptive_llm_local.model_fetch models

models: $(STAMP) $(MODEL) ## Fetch the default GGUF into models/ and verify its sha256

demo: $(STAMP) $(MODEL) ## Run the main job: a RunManager with failing jobs, diagnosed offline
	$(PY) -m adaptive_llm_local.demo

test: $(STAMP) $(MODEL) ## Run the whole test suite (real model, real Chroma, real RunManager)
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-fast: $(STAMP) ## Only tests that need no model (no `model` marker: they never ask for model_path)
	$(PY) -m pytest -q -m "not model" $(PYTEST_ARGS)

bench: $(STAMP) $(MODEL) ## Print performance ratios measured side by side in one run
	$(PY) -m adaptive_llm_local.bench

lint: $(STAMP) ## ruff (incl. one module per heavy import), the layer check, mypy
	$(VENV)/bin/ruff check adaptive_llm_local tests
	$(VENV)/bin/ruff format --check adaptive_llm_local tests
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

doctor: $(STAMP) ## Show model, llama.cpp build, GPU offload and index location
	$(VENV)/bin/adaptive-llm-local doctor

slurm: ## Start a single-node SLURM on this machine (root; installs slurm-wlm and munge)
	bash tests/slurm/start-slurm.sh

clean-index: ## Delete the local Chroma index and diagnosis database
	rm -rf index/chroma index/state.sqlite3*

clean: ## Remove the virtual environment and caches (keeps models/)
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
