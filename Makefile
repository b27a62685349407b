# charrnn: the newcomer's two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
CORPUS := data/python-stdlib.txt
DEMO_OUT ?= demo-out
DEMO_TIME ?= 5m
# An interpreter that can import torch, for `make bench` to measure PyTorch side by side (optional).
TORCH_PY ?= $(firstword $(wildcard ../torchvenv/bin/python))

.PHONY: install test demo bench clean corpus memory-demo

install: $(STAMP)

# Re-installs only when pyproject.toml changes (idempotent); editable, with the dev extra.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { echo "error: charrnn needs Python >= 3.10 (found $$($(PYTHON) --version))" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

test: install
	$(PY) -m pytest

corpus: $(CORPUS)

# The bundled demo corpus, built offline from this interpreter's standard-library sources.
$(CORPUS): data/build_corpus.py
	$(PYTHON) data/build_corpus.py $(CORPUS)

demo: install $(CORPUS)
	$(VENV)/bin/charrnn train $(CORPUS) --time $(DEMO_TIME) --out $(DEMO_OUT) --eval-every 500 --overwrite
	@echo "--- charrnn sample (400 characters after the prime 'def ', temperature 0.8) ---" >&2
	$(VENV)/bin/charrnn sample $(DEMO_OUT)/best.npz --prime "def " --temp 0.8 --length 400 --seed 1
	@echo
	@echo "--- charrnn inspect-cells ---" >&2
	$(VENV)/bin/charrnn inspect-cells $(DEMO_OUT)/best.npz --max-chars 20000 --html $(DEMO_OUT)/cells.html

# inspect-memory on 2x128 RNN, LSTM and GRU, each trained for $(MEMORY_TIME) (skipped when runs/<cell>/best.npz exists).
MEMORY_TIME ?= 5m
memory-demo: install $(CORPUS)
	@for cell in rnn lstm gru; do \
	  if [ -f runs/$$cell/best.npz ]; then echo "runs/$$cell/best.npz exists: not retrained" >&2; \
	  else $(VENV)/bin/charrnn train $(CORPUS) --model $$cell --hidden 128 --layers 2 --time $(MEMORY_TIME) \
	       --out runs/$$cell --overwrite || exit 1; fi; \
	done
	$(VENV)/bin/charrnn inspect-memory runs/rnn/best.npz runs/lstm/best.npz runs/gru/best.npz --init \
	  --html runs/memory.html --dump runs/memory.npz

bench: install $(CORPUS)
	$(PY) benchmarks/bench.py --corpus $(CORPUS) $(if $(TORCH_PY),--torch-python $(TORCH_PY)) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis $(DEMO_OUT) checkpoints
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
