# seq2seq: `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
DATA := data/bible-es-en
RUN ?= runs/demo
BEAM ?= 5
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install demo train translate score test test-unit test-all bench bench-scale screenshots clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# torch first, pinned: 2.13.0 is the local CPU wheel; a looser pin pulls a CUDA build.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed  ## create .venv and install seq2seq with its test tools

demo: install  ## train the paper-shaped model on the bundled corpus (~20 min), print test BLEU
	$(MAKE) --no-print-directory train translate score

train: install  ## train experiment=bible_demo into $(RUN) (resumes if interrupted); ARGS='key=value ...'
	$(BIN)/seq2seq-train experiment=bible_demo trainer.run_dir=$(RUN) $(ARGS)

translate: install  ## translate the bundled test set with beam $(BEAM) into $(RUN)/translations/test.hyp
	$(BIN)/seq2seq-translate $(RUN) --beam-size $(BEAM) --input $(DATA)/test.es.xz --output $(RUN)/translations/test.hyp

score: install  ## BLEU and chrF of $(RUN)/translations/test.hyp against test.en, with signatures; curves.png
	$(BIN)/seq2seq-score $(RUN)/translations/test.hyp $(DATA)/test.en.xz | tee $(RUN)/translations/test.score
	@$(BIN)/seq2seq-plot $(RUN) > /dev/null && echo "learning curves: $(RUN)/curves.png"

# Two workers (pytest-xdist), each test file on one of them (its module fixtures built
# once): the tests run one thread each, so two cores take about half the time.
TEST_ARGS ?= -n 2 --dist loadfile

test: install  ## run the test suite: unit and integration tests (slow ones excluded), ~8 min
	$(PY) -m pytest -q $(TEST_ARGS)

test-unit: install  ## the unit tests alone (no command in a fresh process), ~2 min
	$(PY) -m pytest -q -m "not slow and not integration" $(TEST_ARGS)

test-all: install  ## run every test, slow ones included
	$(PY) -m pytest -q -m "" $(TEST_ARGS)

bench: install  ## speed and memory against Joey NMT 2.3.0 -> bench/results.md (10-17 min)
	$(MAKE) -C bench PY=$(abspath $(PY))

SHOTS := runs/shots
screenshots: install  ## docs/page-*.png: seq2seq-serve's page in chromium, on two attention runs (trained first if missing: ~18 min)
	test -f $(SHOTS)/attention/checkpoints/best.pt || $(BIN)/seq2seq-train experiment=bible_attention \
	  trainer.run_dir=$(SHOTS)/attention trainer.max_time=600
	test -f $(SHOTS)/emoji/checkpoints/best.pt || { $(MAKE) -C recipes/emoji-captions data && \
	  $(BIN)/seq2seq-train experiment=emoji_attention data.local_dir=$(abspath data/emoji-captions/images) \
	  trainer.run_dir=$(SHOTS)/emoji trainer.max_time=480; }
	$(PY) docs/screenshots.py --translate $(SHOTS)/attention --caption $(SHOTS)/emoji \
	  --text "Echa tu suerte entre nosotros; tengamos todos una bolsa:" \
	  --text "El consejo te guardará, te preservará la inteligencia:" \
	  --image data/emoji-captions/images/test/1f385-1f3fc.png --out docs

PAIRS ?= 1000000 4000000
bench-scale: install  ## prepare + 300 steps on corpora of $(PAIRS) pairs built from the bundled text -> bench/results.md (~30 min)
	cd bench && $(abspath $(PY)) scale.py --pairs $(PAIRS)

clean:  ## remove runs/ and prepared data (keeps .venv)
	rm -rf runs data/prepared
