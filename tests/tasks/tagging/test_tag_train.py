"""A tagger learns: the real commands (seq2seq-train, seq2seq-tag, seq2seq-score) on a
synthetic corpus that needs spelling and context (conftest.tagged_sentences), as tags and
as IOB2 entities with a CRF; best.pt is kept on the task's metric."""
from __future__ import annotations

import json
from pathlib import Path


from conftest import run_cli, tagged_sentences, write_conll
from seq2seq.config.compose import load_config
from seq2seq.data.prepare import prepared_path

TRAIN = ["model.emb_dim=16", "model.hidden_dim=32", "model.encoder.hidden_dim=24",
         "model.encoder.char_dim=16", "model.encoder.char_emb_dim=8", "model.layers=1",
         "model.dropout=0.1", "optim.lr=0.01", "trainer.max_time=null", "trainer.eval_every=100",
         "trainer.log_every=50", "trainer.max_sentences=16", "trainer.tensorboard=false"]
AS_ENTITIES = {"CAP": "B-PER", "NUM": "B-NUM", "DET": "O", "NOUN": "O", "OTHER": "O"}


def corpus(root: Path, entities: bool) -> Path:
    for split, seed, n in (("train", 1, 400), ("dev", 2, 80), ("test", 3, 80)):
        sentences = [(tokens, [AS_ENTITIES[t] for t in tags] if entities else tags)
                     for tokens, tags in tagged_sentences(n, seed)]
        write_conll(root / f"{split}.iob2", sentences)
    return root


def train(tmp_path: Path, name: str, entities: bool, *more: str) -> tuple[Path, list[str]]:
    data = corpus(tmp_path / f"data-{name}", entities)
    args = ["experiment=uner", f"data.local_dir={data}", "data.train_split=train",
            "data.dev_split=dev", "data.test_split=test",
            f"data.prepared_dir={tmp_path / 'prepared'}", *TRAIN, *more]
    run = tmp_path / name
    result = run_cli("seq2seq-train", *args, f"trainer.run_dir={run}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    return run, args


def test_a_tagger_learns_spelling_and_context_and_tags_its_test_split(tmp_path):
    run, args = train(tmp_path, "tags", False, "trainer.max_steps=300")
    evals = [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
             if "dev_accuracy" in r]
    assert evals[-1]["dev_accuracy"] >= 95, evals[-1]
    assert "dev_entity_f1" not in evals[-1]  # not IOB2 tags: token accuracy alone
    prepared = prepared_path(load_config(args))
    hyp = tmp_path / "test.hyp"
    result = run_cli("seq2seq-tag", run, "--input", prepared / "test.src", "--output", hyp,
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    result = run_cli("seq2seq-score", "--task", "tag", hyp, prepared / "test.ref", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.splitlines()[0].split()[3])
    assert accuracy >= 95, result.stdout


def test_a_crf_tagger_learns_entities_and_keeps_best_on_entity_f1(tmp_path):
    run, _ = train(tmp_path, "crf", True, "model.decoder.crf=true", "trainer.max_steps=300")
    evals = [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
             if "dev_entity_f1" in r]
    assert evals[-1]["dev_entity_scheme"] == "seqeval IOB2 strict, micro"
    assert max(r["dev_entity_f1"] for r in evals) >= 90, evals
    conll = tmp_path / "data-crf" / "test.iob2"
    result = run_cli("seq2seq-score", "--task", "tag", run / "translations" / "dev.hyp",
                     tmp_path / "data-crf" / "dev.iob2", "--label-column", "2", cwd=tmp_path)
    assert result.returncode == 0 and "entity precision" in result.stdout, result.stderr
    result = run_cli("seq2seq-tag", run, "--input", conll, "--format", "conll",
                     "--token-column", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(conll.read_text().splitlines())
