#!/usr/bin/env bash
# Run directories trained by the code before the parts were split (commit ba9388c, issue 19),
# with what that code printed for them: a checkpoint written then must go on translating
# and sampling identically (tests/test_old_runs.py). Kept: config, sentencepiece models,
# best.pt. Made with:  bash tests/data/old_runs/make.sh   (on ba9388c; do not rerun later)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${BIN:-.venv/bin}
tmp=$(mktemp -d)
common=(debug=smoke data.local_dir=data/bible-es-en "data.prepared_dir=$tmp/prepared"
        trainer.precision=fp32 trainer.tensorboard=false trainer.threads=1 trainer.max_steps=80)
"$bin/seq2seq-train" "${common[@]}" trainer.run_dir="$tmp/paper"
"$bin/seq2seq-train" "${common[@]}" trainer.run_dir="$tmp/attention" model.bidirectional=true \
    model.encoder_hidden_dim=8 model.attention=general model.input_feeding=true
"$bin/seq2seq-train" "${common[@]}" experiment=lm_en trainer.run_dir="$tmp/lm" \
    trainer.max_time=null
for run in paper attention lm; do
    rm -rf "${here:?}/$run"
    mkdir -p "$here/$run/checkpoints"
    cp -r "$tmp/$run/config.yaml" "$tmp/$run/spm" "$here/$run/"
    cp "$tmp/$run/checkpoints/best.pt" "$here/$run/checkpoints/"
done
{ xzcat data/bible-es-en/test.es.xz || true; } | head -12 > "$here/input.es"
for run in paper attention; do
    "$bin/seq2seq-translate" "$here/$run" --input "$here/input.es" --beam-size 3 --nbest 3 \
        --device cpu > "$here/$run/expected.nbest"
    "$bin/seq2seq-translate" "$here/$run" --input "$here/input.es" --beam-size 1 \
        --device cpu > "$here/$run/expected.greedy"
done
"$bin/seq2seq-translate" "$here/paper" "$here/attention" --input "$here/input.es" \
    --beam-size 3 --nbest 2 --device cpu > "$here/expected.ensemble.nbest"
"$bin/seq2seq-sample" "$here/lm" --n 4 --seed 3 --temperature 0.9 --device cpu \
    > "$here/lm/expected.sample"
rm -rf "$tmp"
