# adaptive-llm-local: `make demo` and `make test` set everything up from a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
MODEL  := models/SmolLM2-135M-Instruct.Q4_1.gguf

.DEFAULT_GOAL := help
.PHONY: help install models demo test test-fast bench bundle lint doctor slurm clean-index clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# llama-cpp-python: portable (every x86-64 CPU variant, chosen at run time) unless NATIVE=1.
# Built once per version and flags into ~/.cache/adaptive-llm-local/wheels (see adaptive_llm_local/install/wheel.py).
NATIVE     ?= 0
LLAMA_KIND := $(if $(filter 1,$(NATIVE)),native,portable)
LLAMA_MARK := $(VENV)/.llama-$(LLAMA_KIND)

$(LLAMA_MARK):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	nice -n 10 $(PY) -m adaptive_llm_local.install.wheel $(LLAMA_KIND) --install
	@rm -f $(VENV)/.llama-*
	@touch $(LLAMA_MARK)

$(STAMP): pyproject.toml $(LLAMA_MARK)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install (NATIVE=1: llama.cpp for this CPU only)

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

bundle: $(STAMP) $(MODEL) ## Write dist/adaptive-llm-local-offline-*.tar: wheels, model, install.sh
	$(PY) -m adaptive_llm_local.install.bundle --out dist

lint: $(STAMP) ## ruff (incl. one module per heavy import), the layer check, mypy, the model-seam and category checks
	$(VENV)/bin/ruff check adaptive_llm_local tests
	$(VENV)/bin/ruff format --check adaptive_llm_local tests
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -p no:cacheprovider tests/test_lint_models.py tests/test_category_completeness.py

doctor: $(STAMP) ## Show model, llama.cpp build, GPU offload and index location
	$(VENV)/bin/adaptive-llm-local doctor

slurm: ## Start a single-node SLURM on this machine (root; installs slurm-wlm and munge)
	bash tests/slurm/start-slurm.sh

clean-index: ## Delete the local Chroma index and diagnosis database
	rm -rf index/chroma index/state.sqlite3*

clean: ## Remove the virtual environment, caches and bundles (keeps models/ and built wheels)
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info .cache dist
