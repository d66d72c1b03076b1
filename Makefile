# Every target that needs Python first runs scripts/install.sh, which creates .venv at the
# repo root and installs what the project needs (idempotent, stamped).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 3000
export BENTOML_HOME ?= $(CURDIR)/bentoml_home

.PHONY: install serve demo test test-fast lint models-synth bench loadtest bento containerize clean

install:
	bash scripts/install.sh

# Serve the API. Uses whatever models are in the store; with none, the dlib engine (real
# weights shipped on PyPI) answers and the service says so in /health and its logs.
serve: install
	$(PY) -m models ensure
	$(VENV)/bin/bentoml serve service:FaceReID --host $(HOST) --port $(PORT)

# The same with a synthetic InsightFace pack and synthetic CLIP, fully offline.
demo: install
	$(PY) -m models synth --if-missing
	FACE_ENGINE=insightface $(VENV)/bin/bentoml serve service:FaceReID --host $(HOST) --port $(PORT)

test: install
	$(PY) -m pytest -q -p no:cacheprovider

test-fast: install
	$(PY) -m pytest -q -m "not slow"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy facereid models runners service.py

models-synth: install
	$(PY) -m models synth

clean:
	rm -rf $(VENV) bentoml_home reports build
