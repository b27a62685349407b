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

# The seq2seq demo: dates written many ways -> ISO 8601 (data/build_pairs.py builds the pairs offline).
PAIRS    := data/dates.tsv
S2S_OUT  ?= demo-seq2seq
S2S_TIME ?= 3m
S2S_ARGS ?=

# `make screenshots`: three runs (RNN, LSTM, GRU), their comparison and the LSTM's cells, as PNGs in docs/.
SHOTS_OUT ?= shots-out
SHOTS_TIME ?= 5m
SHOTS_ARGS ?=

.PHONY: install test demo demo-seq2seq bench clean corpus screenshots memory-demo

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

$(PAIRS): data/build_pairs.py
	$(PYTHON) data/build_pairs.py dates $(PAIRS) --pairs 20000 --seed 0

data/dates-test.tsv: data/build_pairs.py
	$(PYTHON) data/build_pairs.py dates data/dates-test.tsv --pairs 1000 --seed 1

# One BLAS thread: at 64 x 128 the products are too small for a second thread to pay off, and on a
# busy machine two threads wait for each other (many times slower).
demo-seq2seq: install $(PAIRS) data/dates-test.tsv
	$(VENV)/bin/charrnn train $(PAIRS) --task seq2seq --model gru --layers 1 --hidden 128 \
		--batch 64 --lr 3e-3 --eval-every 200 --time $(S2S_TIME) --out $(S2S_OUT) --overwrite --threads 1 $(S2S_ARGS)
	@echo "--- charrnn translate (greedy) ---" >&2
	printf '29 November 2026\n2026년 11월 29일\nNov 29, 2026\n11/29/2026\n1st January 2000\n' | \
		$(VENV)/bin/charrnn translate $(S2S_OUT)/best.npz
	@echo "--- charrnn evaluate on 1,000 new pairs (data/dates-test.tsv) ---" >&2
	$(VENV)/bin/charrnn evaluate $(S2S_OUT)/best.npz data/dates-test.tsv

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

screenshots: install $(CORPUS)
	for m in rnn lstm gru; do \
	  $(VENV)/bin/charrnn train $(CORPUS) --model $$m --time $(SHOTS_TIME) --out $(SHOTS_OUT)/$$m --overwrite $(SHOTS_ARGS) || exit 1; \
	done
	$(VENV)/bin/charrnn compare $(SHOTS_OUT)/rnn $(SHOTS_OUT)/lstm $(SHOTS_OUT)/gru --html $(SHOTS_OUT)/compare.html | tee $(SHOTS_OUT)/compare.txt
	$(VENV)/bin/charrnn inspect-cells $(SHOTS_OUT)/lstm/best.npz --max-chars 20000 --html $(SHOTS_OUT)/cells.html --excerpt 0 | tee $(SHOTS_OUT)/cells.txt
	$(PY) docs/screenshots.py --compare $(SHOTS_OUT)/compare.html --cells $(SHOTS_OUT)/cells.html --out docs

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis $(DEMO_OUT) $(S2S_OUT) $(SHOTS_OUT) checkpoints
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
