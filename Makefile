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

# The Korean demo: the LibreOffice help in Korean (data/build_korean.py, from Debian's libreoffice-help-ko),
# modelled as jamo (--tokens jamo).
KO_CORPUS := data/korean-help.txt
KO_OUT    ?= demo-korean
KO_TIME   ?= 5m

# The classify demo: a line of stdlib source -> its package (data/build_labels.py, offline); the
# tag demo: spacing restoration on the stdlib's docstrings and comments (data/build_tags.py).
LABELS   := data/packages.tsv
CLS_OUT  ?= demo-classify
CLS_TIME ?= 3m
CLS_ARGS ?=
SPACING  := data/spacing.tsv
TAG_OUT  ?= demo-tag
TAG_TIME ?= 3m
TAG_ARGS ?=

# `make runs`: the three runs behind the README's compare, inspect-cells and inspect-memory figures:
# 2x128 RNN, LSTM and GRU on the bundled corpus, RUNS_TIME each (a run whose best.npz exists is kept).
RUNS ?= runs
RUNS_TIME ?= 5m
RUNS_ARGS ?=

.PHONY: install test test-numpy demo demo-seq2seq demo-korean demo-classify demo-tag bench clean corpus runs screenshots memory-demo

install: $(STAMP)

# Re-installs only when pyproject.toml changes (idempotent); editable, with the dev extra.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { echo "error: charrnn needs Python >= 3.10 (found $$($(PYTHON) --version))" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

test: install
	$(PY) -m pytest

# The suite as on a machine without numba: the NumPy cells only (the fused-kernel tests skip).
test-numpy: install
	CHARRNN_NO_NUMBA=1 $(PY) -m pytest

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

$(KO_CORPUS): data/build_korean.py
	$(PYTHON) data/build_korean.py $(KO_CORPUS)

demo-korean: install $(KO_CORPUS)
	$(VENV)/bin/charrnn train $(KO_CORPUS) --tokens jamo --time $(KO_TIME) --out $(KO_OUT) --overwrite
	@echo "--- charrnn sample (300 characters after the prime '대화 상자를 ', temperature 0.8) ---" >&2
	$(VENV)/bin/charrnn sample $(KO_OUT)/best.npz --prime "대화 상자를 " --temp 0.8 --length 300 --seed 1
	@echo "--- charrnn inspect-cells ---" >&2
	$(VENV)/bin/charrnn inspect-cells $(KO_OUT)/best.npz --max-chars 20000 --html $(KO_OUT)/cells.html

$(LABELS) data/packages-test.tsv &: data/build_labels.py data/build_corpus.py
	$(PYTHON) data/build_labels.py packages $(LABELS) --test data/packages-test.tsv

$(SPACING) data/spacing-test.tsv &: data/build_tags.py data/build_corpus.py
	$(PYTHON) data/build_tags.py spacing --stdlib $(SPACING) --lines 20000 --test data/spacing-test.tsv

# One BLAS thread (as demo-seq2seq): small products, a busy machine.
demo-classify: install $(LABELS) data/packages-test.tsv
	@echo "--- baselines on the same validation lines: majority class, bag of characters ---" >&2
	$(PY) data/baselines.py $(LABELS) --test data/packages-test.tsv
	$(VENV)/bin/charrnn train $(LABELS) --task classify --model gru --layers 1 --hidden 128 --batch 32 \
		--time $(CLS_TIME) --out $(CLS_OUT) --overwrite --threads 1 $(CLS_ARGS)
	@echo "--- charrnn predict --top 3 ---" >&2
	printf 'self.assertEqual(result, expected)\nmsg = email.message_from_string(text)\nloop.run_until_complete(main())\nself.tk.call(self._w, "configure")\n' | \
		$(VENV)/bin/charrnn predict $(CLS_OUT)/best.npz --top 3
	@echo "--- charrnn evaluate on 1,200 other lines (data/packages-test.tsv) ---" >&2
	$(VENV)/bin/charrnn evaluate $(CLS_OUT)/best.npz data/packages-test.tsv --html $(CLS_OUT)/evaluate.html

demo-tag: install $(SPACING) data/spacing-test.tsv
	$(VENV)/bin/charrnn train $(SPACING) --task tag --bidirectional --model gru --layers 1 --hidden 128 --batch 32 \
		--time $(TAG_TIME) --out $(TAG_OUT) --overwrite --threads 1 $(TAG_ARGS)
	@echo "--- charrnn predict --show ---" >&2
	printf 'thequickbrownfoxjumpsoverthelazydog\nReturnthenumberofitemsinthecontainer.\nIfthefileisnotfound,raiseanerror.\n' | \
		$(VENV)/bin/charrnn predict $(TAG_OUT)/best.npz --show
	@echo "--- charrnn evaluate on 1,000 later lines (data/spacing-test.tsv) ---" >&2
	$(VENV)/bin/charrnn evaluate $(TAG_OUT)/best.npz data/spacing-test.tsv --html $(TAG_OUT)/evaluate.html

bench: install $(CORPUS)
	$(PY) benchmarks/bench.py --corpus $(CORPUS) $(if $(TORCH_PY),--torch-python $(TORCH_PY)) $(BENCH_ARGS)

runs: install $(CORPUS)
	@for m in rnn lstm gru; do \
	  if [ -f $(RUNS)/$$m/best.npz ]; then echo "$(RUNS)/$$m/best.npz exists: kept (delete $(RUNS)/$$m to retrain)" >&2; \
	  else $(VENV)/bin/charrnn train $(CORPUS) --model $$m --time $(RUNS_TIME) --out $(RUNS)/$$m --overwrite $(RUNS_ARGS) || exit 1; fi; \
	done

# inspect-memory on the three runs, with the freshly initialised models beside them.
memory-demo: runs
	$(VENV)/bin/charrnn inspect-memory $(RUNS)/rnn/best.npz $(RUNS)/lstm/best.npz $(RUNS)/gru/best.npz --init \
	  --html $(RUNS)/memory.html --dump $(RUNS)/memory.npz | tee $(RUNS)/memory.txt

# The README's pictures (docs/*.png) from the three runs, taken in headless Chromium.
screenshots: memory-demo
	$(VENV)/bin/charrnn compare $(RUNS)/rnn $(RUNS)/lstm $(RUNS)/gru --html $(RUNS)/compare.html | tee $(RUNS)/compare.txt
	$(VENV)/bin/charrnn inspect-cells $(RUNS)/lstm/best.npz --max-chars 20000 --html $(RUNS)/cells.html --excerpt 0 | tee $(RUNS)/cells.txt
	$(PY) docs/screenshots.py --compare $(RUNS)/compare.html --cells $(RUNS)/cells.html --memory $(RUNS)/memory.html --out docs

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis $(DEMO_OUT) $(S2S_OUT) $(KO_OUT) $(CLS_OUT) $(TAG_OUT) checkpoints
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
