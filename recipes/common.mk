# Targets every recipe shares. A recipe's Makefile sets its variables, includes this
# file, and defines `train`, `translate` and `score` with the helpers below:
#
#   $(call prepare_run,OVERRIDES)                  seq2seq-prepare (train would do it too)
#   $(call train_run,NAME,OVERRIDES)               seq2seq-train into $(RUNS)/NAME
#   $(call translate_run,NAME,ARGS,TAG)            test set -> $(RUNS)/NAME/translations/test<TAG>.hyp
#   $(call score_run,NAME,TAG)                     BLEU + chrF with signatures -> .score
#
# `make smoke` runs the recipe's whole chain (data prepare train translate score) on a
# slice of the data with debug=smoke, in seconds: the test suite runs it for every recipe.

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c  # `score | tee` fails when score fails
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
# The repository's .venv when `make install` made one, else whatever is on PATH.
BIN ?= $(if $(wildcard $(ROOT)/.venv/bin/seq2seq-train),$(ROOT)/.venv/bin/,)
CORPUS ?= $(ROOT)/data/bible-es-en
# Prepared data is shared by every recipe (keyed by its settings, see seq2seq/data/prepare.py).
PREPARED_DIR ?= $(ROOT)/data/prepared
BASE_ARGS := 'data.prepared_dir=$(PREPARED_DIR)/$${data.name}'
TEST_SRC ?= $(CORPUS)/test.es.xz
TEST_REF ?= $(CORPUS)/test.en.xz
RUNS ?= runs

ifeq ($(SMOKE),1)
RUNS := runs-smoke
BASE_ARGS += debug=smoke
TEST_SRC := $(RUNS)/test.src
TEST_REF := $(RUNS)/test.ref
endif

prepare_run = $(BIN)seq2seq-prepare $(BASE_ARGS) $(1)
train_run = $(BIN)seq2seq-train $(BASE_ARGS) $(2) trainer.run_dir=$(RUNS)/$(1)
translate_run = $(BIN)seq2seq-translate $(RUNS)/$(1) $(2) --input $(TEST_SRC) \
	--output $(RUNS)/$(1)/translations/test$(3).hyp
score_run = $(BIN)seq2seq-score $(RUNS)/$(1)/translations/test$(2).hyp $(TEST_REF) \
	| tee $(RUNS)/$(1)/translations/test$(2).score

# Captioning recipes (task=captioning) set RUN_<NAME> (each run's overrides) and use:
#   $(call caption_run,NAME,EXTRA)   the run's prepared test images (seq2seq-prepare prints
#       the prepared directory last; cached, so it only looks it up) and their references
#       copied to $(RUNS)/NAME/translations/, captioned with beam 5 (test.hyp; EXTRA goes
#       to this call) and beam 1 (test.beam1.hyp)
#   $(call caption_score,NAME,TAG)   BLEU-1..4 (signed), CIDEr-D, exact match and CER of
#       test<TAG>.hyp -> test<TAG>.score and .json
caption_run = d=$$($(call prepare_run,$(RUN_$(1))) | tail -n 1) && t=$(RUNS)/$(1)/translations \
	&& mkdir -p $$t && cp $$d/test.src $$d/test.refs.jsonl $$t/ \
	&& $(BIN)seq2seq-caption $(RUNS)/$(1) --input $$t/test.src --beam-size 5 \
	  --output $$t/test.hyp $(2) \
	&& $(BIN)seq2seq-caption $(RUNS)/$(1) --input $$t/test.src --beam-size 1 \
	  --output $$t/test.beam1.hyp
caption_score = $(BIN)python -m seq2seq.tasks.captioning.score $(RUNS)/$(1)/translations/test$(2).hyp \
	$(RUNS)/$(1)/translations/test.refs.jsonl --sequence \
	--json $(RUNS)/$(1)/translations/test$(2).json | tee $(RUNS)/$(1)/translations/test$(2).score

.PHONY: all data prepare train translate score plot smoke clean
.DEFAULT_GOAL := all

all: data prepare train translate score  ## the whole recipe

score: plot  # every recipe's score also draws its learning curves

ifndef OWN_DATA  # a recipe on other data sets OWN_DATA and writes its own `data`
data:  ## the bundled corpus is in the repository: check that it is there
	@test -f $(CORPUS)/train.es.xz && test -f $(CORPUS)/test.en.xz && echo "corpus: $(CORPUS)"
ifeq ($(SMOKE),1)
	@mkdir -p $(RUNS)
	@python3 -c "import lzma; [open('$(RUNS)/test.' + s, 'w').write(''.join(lzma.open('$(CORPUS)/test.' + l + '.xz', 'rt').readlines()[:12])) for s, l in (('src', 'es'), ('ref', 'en'))]"
endif
endif

smoke:  ## the whole chain on a slice, in seconds
	$(MAKE) --no-print-directory all SMOKE=1

plot:  ## learning curves of the recipe's runs in one PNG: $(RUNS)/curves.png
	$(BIN)seq2seq-plot $(addprefix $(RUNS)/,$(PLOT_RUNS)) --output $(RUNS)/curves.png

clean:  ## remove this recipe's runs
	rm -rf runs runs-smoke
