"""Captioning metrics: BLEU-1..4 against sacrebleu, varying reference counts, CIDEr-D and
ROUGE-L against pycocoevalcap, exact match and CER, read_refs errors, and the command end to end."""
from __future__ import annotations

import io
import json
import sys
from importlib import metadata

import pytest
import sacrebleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from seq2seq.tasks.captioning.metrics import (CaptionScores, caption_scores, cider_d, read_refs,
                                              rouge_l)
from seq2seq.tasks.captioning.score import main

HYPS = ["A dog runs on the grass.", "Two men are playing football in a park.",
        "a cat sleeps on a red sofa", "A child eats an apple."]
REFS = [["A dog is running on the grass.", "A brown dog runs across a lawn.",
         "The dog runs in the field."],
        ["Two men play football in the park.", "Men playing soccer outside.",
         "Two people kick a ball in a park."],
        ["A cat is sleeping on a red couch.", "A cat naps on the sofa.",
         "The red sofa has a sleeping cat on it."],
        ["A young child is eating an apple.", "A kid bites into a green apple.",
         "A child with an apple."]]


def test_bleu_equals_sacrebleu_with_equal_reference_counts():
    scores = caption_scores(HYPS, REFS)
    streams = [list(s) for s in zip(*REFS)]  # per-image lists -> reference streams
    for n, score in enumerate(scores.bleu, start=1):
        direct = sacrebleu.BLEU(max_ngram_order=n).corpus_score(HYPS, streams)
        assert score.name == f"BLEU-{n}" and score.score == pytest.approx(direct.score)
        assert "nrefs:3" in score.signature and "tok:13a" in score.signature
    assert scores.bleu[3].score == pytest.approx(sacrebleu.corpus_bleu(HYPS, streams).score)
    assert scores.exact is None and scores.cer is None


def test_varying_reference_counts_equal_padding_with_duplicates():
    # A duplicated reference adds no n-gram (counts merge by max) and no new length (the
    # closest reference length is unchanged), so BLEU must equal the padded-with-None one.
    varying = [REFS[0], REFS[1][:1], REFS[2][:2], REFS[3]]
    duplicated = [r + [r[0]] * (3 - len(r)) for r in varying]
    var, dup = caption_scores(HYPS, varying), caption_scores(HYPS, duplicated)
    for a, b in zip(var.bleu, dup.bleu):
        assert a.score == pytest.approx(b.score)
        assert "nrefs:var" in a.signature and "nrefs:3" in b.signature
    # and the missing references do change it: it is not the full-reference score
    assert var.bleu[3].score != pytest.approx(caption_scores(HYPS, REFS).bleu[3].score)


def test_empty_string_would_not_be_a_missing_reference():
    # Why padding is None: sacrebleu keeps "" as a reference of length 0, which becomes the
    # closest length for a short hypothesis and removes the brevity penalty.
    hyps, refs = ["a dog", "a cat sat on the mat"], [["a dog runs on grass"],
                                                     ["a cat sat on the mat", "a cat sat"]]
    padded_none = [["a dog runs on grass", "a cat sat on the mat"], [None, "a cat sat"]]
    padded_empty = [["a dog runs on grass", "a cat sat on the mat"], ["", "a cat sat"]]
    ours = caption_scores(hyps, refs).bleu[3].score
    assert ours == pytest.approx(sacrebleu.corpus_bleu(hyps, padded_none).score)
    assert ours != pytest.approx(sacrebleu.corpus_bleu(hyps, padded_empty).score)


def test_cider_d_hand_checked():
    # Two images with no shared n-gram: every n-gram has idf log(2); a hypothesis equal to
    # its only reference has cosine 1 for n = 1..4 -> 10.0; a disjoint one 0. Mean 5.0.
    hyps = ["the red bus stops here", "zebras graze under acacia trees"]
    refs = [["the red bus stops here"], ["a blue boat sails away"]]
    assert cider_d(hyps, refs) == pytest.approx(5.0)


def test_cider_d_matches_pycocoevalcap_on_pretokenised_text():
    # lowercased and 13a-tokenised by hand: punctuation split off as its own token
    hyps = ["a dog runs on the grass .", "two men are playing football in a park .",
            "a cat sleeps on a red sofa", "a child eats an apple ."]
    gts = {i: [Tokenizer13a()(r.lower()) for r in rs] for i, rs in enumerate(REFS)}
    res = {i: [h] for i, h in enumerate(hyps)}
    direct, _ = Cider().compute_score(gts, res)
    assert cider_d(HYPS, REFS) == pytest.approx(direct)
    assert caption_scores(HYPS, REFS).cider_d == pytest.approx(direct)


def test_rouge_l_hand_checked_and_matches_pycocoevalcap():
    # LCS of "a b c d" and "a x c d": 3; P = R = 3/4 -> F = 0.75 whatever beta. The best of
    # two references counts ("e f" shares nothing). A disjoint hypothesis scores 0.
    hyps, refs = ["a b c d", "zebras graze"], [["e f", "a x c d"], ["a blue boat"]]
    assert rouge_l(hyps, refs) == pytest.approx(0.75 / 2)
    gts = {i: [Tokenizer13a()(r.lower()) for r in rs] for i, rs in enumerate(REFS)}
    res = {i: [Tokenizer13a()(h.lower())] for i, h in enumerate(HYPS)}
    direct, _ = Rouge().compute_score(gts, res)
    assert caption_scores(HYPS, REFS).rouge_l == pytest.approx(direct)
    assert rouge_l([rs[0] for rs in REFS], REFS) == pytest.approx(1.0)


def test_cider_d_prefers_a_hypothesis_equal_to_the_references():
    same = [rs[0] for rs in REFS]
    different = ["a plane flies over the sea"] * len(REFS)
    assert cider_d(same, REFS) > cider_d(HYPS, REFS) > cider_d(different, REFS)


def test_exact_match_and_cer_on_digit_strings():
    hyps = ["1 2 3", "4  5 6 ", "7 8"]
    refs = [["1 2 4"], ["0", "4 5 6"], ["7 8 9"]]
    scores = caption_scores(hyps, refs, sequence=True)
    assert scores.exact == pytest.approx(100 / 3)  # only "4  5 6 " after whitespace folding
    # CER against the first reference, spaces counted as characters, summed over the corpus:
    # "1 2 3"/"1 2 4": 1 edit; "4  5 6" (stripped)/"0": 6 edits; "7 8"/"7 8 9": 2 edits.
    assert scores.cer == pytest.approx(100 * (1 + 6 + 2) / (5 + 1 + 5))
    text = str(scores)
    assert "exact = 33.33" in text and "CER = " in text and "CIDEr-D = " in text


def test_str_and_as_dict():
    scores = caption_scores(HYPS, REFS)
    lines = str(scores).splitlines()
    assert [line.split(" = ")[0] for line in lines] == ["BLEU-1", "BLEU-2", "BLEU-3",
                                                        "BLEU-4", "CIDEr-D", "ROUGE-L"]
    assert all(s.signature in line for s, line in zip(scores.bleu, lines))
    d = json.loads(json.dumps(scores.as_dict()))
    assert list(d) == ["bleu1", "bleu1_signature", "bleu2", "bleu2_signature", "bleu3",
                       "bleu3_signature", "bleu4", "bleu4_signature", "cider_d", "rouge_l",
                       "coco_scheme", "exact", "cer"]
    assert d["bleu4"] == scores.bleu[3].score and d["exact"] is None
    # the scheme of the coco-caption scores: pycocoevalcap's scorers on 13a tokens, not PTB
    scheme = f"pycocoevalcap:{metadata.version('pycocoevalcap')}|tok:13a|case:lc"
    assert d["coco_scheme"] == scheme
    assert lines[-2] == f"CIDEr-D = {scores.cider_d:.3f}  ({scheme})"
    assert lines[-1] == f"ROUGE-L = {scores.rouge_l:.3f}  ({scheme})"
    assert isinstance(scores, CaptionScores)


@pytest.mark.parametrize("content, why", [
    (b'["ok"]\n["a", \n', "2: not JSON"),
    (b'["ok"]\n"a dog"\n', "2: expected a JSON list of strings, got str"),
    (b'[]\n', "1: empty list"),
    (b'["ok", 3]\n', "1: every reference must be a non-blank string"),
    (b'["ok"]\n["caf\xe9"]\n', "2: invalid UTF-8"),
])
def test_read_refs_errors_name_file_and_line(tmp_path, content, why):
    path = tmp_path / "refs.jsonl"
    path.write_bytes(content)
    with pytest.raises(ValueError) as exc:
        read_refs(path)
    message = str(exc.value)
    assert message.startswith(f"{path}:{why}") and "\n" not in message


def test_read_refs(tmp_path):
    path = tmp_path / "refs.jsonl"
    path.write_text('["a dog", "a brown dog"]\n["a cat"]\n', encoding="utf-8")
    assert read_refs(path) == [["a dog", "a brown dog"], ["a cat"]]


def _write(tmp_path, hyps, refs):
    hyp = tmp_path / "test.hyp"
    hyp.write_text("".join(h + "\n" for h in hyps), encoding="utf-8")
    ref = tmp_path / "refs.jsonl"
    ref.write_text("".join(json.dumps(r) + "\n" for r in refs), encoding="utf-8")
    return hyp, ref


def test_cli_prints_and_writes_json(tmp_path, capsys):
    hyp, ref = _write(tmp_path, HYPS, REFS)
    out = tmp_path / "scores.json"
    main([str(hyp), str(ref), "--sequence", "--json", str(out)])
    expected = caption_scores(HYPS, REFS, sequence=True)
    assert capsys.readouterr().out == str(expected) + "\n"
    assert json.loads(out.read_text()) == pytest.approx(expected.as_dict())


def test_cli_reads_stdin(tmp_path, capsys, monkeypatch):
    _, ref = _write(tmp_path, HYPS, REFS)
    stdin = io.TextIOWrapper(io.BytesIO("".join(h + "\n" for h in HYPS).encode()))
    monkeypatch.setattr(sys, "stdin", stdin)
    main(["-", str(ref)])
    assert capsys.readouterr().out == str(caption_scores(HYPS, REFS)) + "\n"


def test_cli_mismatched_counts_is_one_line(tmp_path, capsys):
    hyp, ref = _write(tmp_path, HYPS[:3], REFS)
    with pytest.raises(SystemExit) as exc:
        main([str(hyp), str(ref)])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert err == f"seq2seq-caption-score: error: {hyp} has 3 lines but {ref} has 4\n"
