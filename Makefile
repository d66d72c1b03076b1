# Every target that needs Python first runs scripts/install.sh, which creates .venv at the
# repo root and installs what the project needs (idempotent, stamped).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 3000
export BENTOML_HOME ?= $(CURDIR)/bentoml_home

.PHONY: install serve demo test test-fast lint models-synth bench loadtest bento containerize image image-test compose-test image-gpu-check clean

install:
	bash scripts/install.sh

# Serve the API. `models ensure` first fills the store: a pack in MODEL_PATH is imported, and
# what is still missing (buffalo_l, CLIP ViT-B-32) is downloaded with its licence terms printed;
# MODELS_AUTO_PULL=0 turns the download off. Without network it says so once, within seconds,
# and the dlib engine (real weights shipped on PyPI) answers, as /health and the logs say.
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
	$(VENV)/bin/mypy facereid models runners service.py tests benchmarks loadtests scripts

models-synth: install
	$(PY) -m models synth

# Headless Locust against a local server it starts with synthetic realistic models (own store
# under reports/); CSV + HTML reports in reports/. LOADTEST_CLASS/USERS/TIME, see loadtests/run.sh.
loadtest: install
	bash loadtests/run.sh

# Limit, service, baseline and find_matches benchmarks in one run (< 15 min on 2 cores);
# table on stdout and in reports/bench.md. Knobs: BENCH_* variables, see benchmarks/run.py.
bench: install
	$(PY) -m benchmarks.run

# Bentos: TARGET=face|clip|all (default all), VARIANT=gpu|cpu|all (default gpu); see docs/deploy.md.
TARGET ?= all
VARIANT ?= gpu
bento: install
	TARGET=$(TARGET) VARIANT=$(VARIANT) bash scripts/bento.sh build

# Needs a container engine; without one it says so in one line and fails.
containerize:
	TARGET=$(TARGET) VARIANT=$(VARIANT) bash scripts/bento.sh containerize

# The OCI image (TARGET=face|clip, VARIANT=cpu|gpu; default face/cpu) with the synthetic models
# when the store has none (labelled synthetic). Installs podman/runc with apt where no engine is
# found; docs/deploy.md "Building the images". Not part of `make test` (minutes of CPU).
image: install
	$(PY) -m models synth --if-missing
	TARGET=$(if $(filter all,$(TARGET)),face,$(TARGET)) VARIANT=$(if $(filter command line environment,$(origin VARIANT)),$(VARIANT),cpu) bash scripts/image.sh

# Builds the CPU face image and checks it running under podman (scripts/image_test.sh).
image-test: install
	$(MAKE) image TARGET=face VARIANT=cpu
	bash scripts/image_test.sh

# Both CPU images, Redis and the Chroma server from deploy/compose*.yaml, started with
# podman-compose and checked over HTTP (scripts/compose_test.sh; stand-ins where no registry).
compose-test: install
	$(MAKE) image TARGET=face VARIANT=cpu
	$(MAKE) image TARGET=clip VARIANT=cpu
	bash scripts/compose_test.sh

# The GPU face image built (on a stand-in base where the CUDA base cannot be pulled) and its
# Python environment checked: one onnxruntime, one cv2, CUDA offered (scripts/image_gpu_check.sh).
image-gpu-check: install
	$(PY) -m models synth --if-missing
	bash scripts/image_gpu_check.sh

clean:
	rm -rf $(VENV) .venv-tools bentoml_home reports build
