"""Sentencepiece models and the one function that reverses the source."""
from __future__ import annotations

import io

import datasets
import pytest
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2
import torch

from seq2seq.config.compose import DecodeConfig
from seq2seq.models.encoder_decoder import build_model
from seq2seq.tasks.translation import translator as translate_mod
from conftest import model_config
from seq2seq.data.prepare import prepare
from seq2seq.data.textfile import read_lines
from seq2seq.data.tokenizer import (BOS, EOS, PAD, UNK, Tokenizer, encode_words, load_spm,
                               train_spm)
from seq2seq.data.tokens import PairArrays


def test_special_ids_are_the_sentencepiece_ids(tokenizer):
    assert len({PAD, UNK, BOS, EOS}) == 4
    for sp in (tokenizer.src, tokenizer.tgt):
        assert (sp.pad_id(), sp.unk_id(), sp.bos_id(), sp.eos_id()) == (PAD, UNK, BOS, EOS)


@pytest.mark.parametrize("model_type", ["unigram", "bpe", "word", "char"])
def test_every_model_type_trains_with_the_special_ids(model_type, es_en, tmp_path):
    es, _ = es_en
    path = train_spm(es, tmp_path / "m", vocab_size=100, model_type=model_type)
    assert path == tmp_path / "m.model" and path.is_file()
    sp = load_spm(path)
    assert (sp.pad_id(), sp.unk_id(), sp.bos_id(), sp.eos_id()) == (PAD, UNK, BOS, EOS)
    assert sp.get_piece_size() <= 100
    ids = sp.encode(es[:50])
    assert all(ids) and all(4 <= i < sp.get_piece_size() or i == UNK for s in ids for i in s)
    if model_type != "word":  # full character coverage: no unk, text comes back exactly
        assert sp.decode(ids) == es[:50]


@pytest.mark.parametrize("model_type", ["unigram", "bpe", "char"])
def test_subword_models_encode_whole_sentences_as_word_by_word(es_en, tmp_path, model_type):
    """Whole sentences (4x faster) give the ids of word-by-word encoding: subword pieces
    never cross a space, so runs of unknown characters never span two words. Checked with
    rare characters left out of the vocabulary and unknown ones side by side."""
    es, _ = es_en
    sp = load_spm(train_spm(es, tmp_path / "m", vocab_size=150 if model_type == "char" else 300,
                            model_type=model_type, character_coverage=0.98))
    odd = ["Ωμέγα ψ ξ € 中 文 x", "  dos   espacios  ", "中文 中文", "Ω"]
    tok = Tokenizer(sp, sp, reverse_source=False)
    texts = es[:300] + odd
    assert [ids[:-1] for ids in tok.encode_source(texts)] == encode_words(sp, texts)
    assert tok.encode_target(texts) == encode_words(sp, texts)
    assert UNK in [i for ids in encode_words(sp, odd) for i in ids]  # unknowns were tested


def test_word_model_gives_one_id_per_word(es_en, tmp_path):
    """The paper's word vocabulary: each out-of-vocabulary word becomes its own <unk>.

    (seq2seq/conf/tokenizer/word.yaml: "the most frequent words, the rest <unk>"). Sequence lengths,
    and so the batches and the task, must then match the word count of each sentence.
    """
    es, _ = es_en
    sp = load_spm(train_spm(es, tmp_path / "w", vocab_size=100, model_type="word"))
    lines = es[:50]
    tok = Tokenizer(sp, sp, reverse_source=False)
    src, tgt = tok.encode_source(lines), tok.encode_target(lines)
    # Raw sentencepiece merges runs of unknown words; the test needs some such runs.
    assert [len(ids) for ids in sp.encode(lines)] != [len(line.split()) for line in lines]
    assert any(UNK in ids for ids in tgt)
    assert [len(ids) for ids in tgt] == [len(line.split()) for line in lines]
    assert [len(ids) - 1 for ids in src] == [len(line.split()) for line in lines]  # + eos


def test_load_spm_names_a_missing_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.model"):
        load_spm(tmp_path / "nothing.model")


@pytest.mark.parametrize("damage", ["empty", "garbage", "cut in half", "pieces only"])
def test_load_spm_names_a_corrupt_model_in_one_line(tmp_path, es_en, damage):
    path = train_spm(es_en[0], tmp_path / "spm" / "src", vocab_size=100, model_type="unigram")
    whole = path.read_bytes()
    pieces_only = sentencepiece_model_pb2.ModelProto()  # a file cut between two pieces:
    pieces_only.ParseFromString(whole)                  # sentencepiece loads it silently
    pieces_only.ClearField("trainer_spec")
    pieces_only.ClearField("normalizer_spec")
    path.write_bytes({"empty": b"", "garbage": b"garbage, not a model",
                      "cut in half": whole[: len(whole) // 2],
                      "pieces only": pieces_only.SerializeToString()}[damage])
    with pytest.raises(ValueError) as info:
        load_spm(path)
    assert str(info.value) == f"{path}: not a sentencepiece model (truncated or corrupt)"


def test_load_spm_refuses_a_model_with_other_special_ids(tmp_path, es_en):
    model = io.BytesIO()  # sentencepiece's defaults: no pad, unk 0, bos 1, eos 2
    spm.SentencePieceTrainer.train(sentence_iterator=iter(es_en[0]), model_writer=model,
                                   vocab_size=100, minloglevel=2, num_threads=1)
    path = tmp_path / "src.model"
    path.write_bytes(model.getvalue())
    with pytest.raises(ValueError) as info:
        load_spm(path)
    assert str(info.value) == (f"{path}: special ids pad/unk/bos/eos are (-1, 0, 1, 2), "
                               "seq2seq trains its models with (0, 1, 2, 3): not a model "
                               "seq2seq-prepare made")


def test_source_is_reversed_exactly_once(tokenizer, es_en):
    texts = es_en[0][:20]
    pieces = tokenizer.src.encode(texts)
    # Guard: these sentences are not palindromes in ids, so a missing or a second
    # reversal would show.
    assert all(p != p[::-1] for p in pieces)
    assert tokenizer.encode_source(texts) == [p[::-1] + [EOS] for p in pieces]


def test_source_not_reversed_when_switched_off(tokenizer, es_en):
    texts = es_en[0][:20]
    plain = Tokenizer(tokenizer.src, tokenizer.tgt, reverse_source=False)
    assert plain.encode_source(texts) == [p + [EOS] for p in tokenizer.src.encode(texts)]


def test_target_ids_carry_no_bos_or_eos_and_decode_stops_at_eos(tokenizer, es_en):
    texts = es_en[1][:20]
    ids = tokenizer.encode_target(texts)
    assert ids == tokenizer.tgt.encode(texts)
    assert not any(BOS in s or EOS in s for s in ids)
    assert tokenizer.decode_target(ids) == texts
    garbage = tokenizer.tgt.encode("garbage after the end")
    assert tokenizer.decode_target([s + [EOS] + garbage for s in ids]) == texts


def test_load_reads_both_models_and_the_reversal_flag(tokenizer, tmp_path):
    (tmp_path / "src.model").write_bytes(tokenizer.src.serialized_model_proto())
    (tmp_path / "tgt.model").write_bytes(tokenizer.tgt.serialized_model_proto())
    tok = Tokenizer.load(tmp_path, reverse_source=False)
    assert (tok.src_vocab_size, tok.tgt_vocab_size) == (tokenizer.src_vocab_size,
                                                        tokenizer.tgt_vocab_size)
    assert not tok.reverse_source
    assert tok.encode_source(["Y dijo Dios"]) == [tokenizer.src.encode("Y dijo Dios") + [EOS]]


# ------------------------------------------------------------------ one function, two paths
@pytest.mark.parametrize("reverse", [True, False])
def test_prepared_training_ids_are_encode_source(tiny_config, tiny_corpus, reverse):
    # max_len high enough that every pair is kept: stored pair i is corpus line i
    cfg = tiny_config(f"model.reverse_source={str(reverse).lower()}", "data.max_len=100000")
    out = prepare(cfg)
    tok = Tokenizer.load(out.spm, reverse_source=reverse)
    for split, folder in (("train", out.train), ("dev", out.dev)):
        src = list(read_lines(tiny_corpus / f"{split}.es"))
        tgt = list(read_lines(tiny_corpus / f"{split}.en"))
        data = PairArrays(folder)
        stored = [data.pair(i) for i in range(len(data))]
        assert stored == list(zip(tok.encode_source(src), tok.encode_target(tgt)))
    assert (stored[0][0] == tok.src.encode(src[0])[::-1] + [EOS]) == reverse


SENTINEL = [5, 6, 7, EOS]  # not a palindrome: any reversal after encode_source would show


def _sentinel_encode(self, texts):
    return [list(SENTINEL) for _ in texts]


@pytest.fixture
def no_arrow_cache():
    """Fresh Dataset.map results: a cached map keyed on the tokenizer would hide a patch."""
    datasets.disable_caching()
    yield
    datasets.enable_caching()


def test_training_data_goes_through_encode_source(tiny_config, monkeypatch, no_arrow_cache):
    monkeypatch.setattr(Tokenizer, "encode_source", _sentinel_encode)
    out = prepare(tiny_config())
    for folder in (out.train, out.dev):
        data = PairArrays(folder)
        ids = [data.pair(i)[0] for i in range(len(data))]
        assert ids and all(s == SENTINEL for s in ids)


def test_translate_goes_through_encode_source_and_nothing_else(tokenizer, es_en,
                                                                monkeypatch):
    torch.manual_seed(0)
    model = build_model(model_config(emb_dim=8, hidden_dim=8, layers=1),
                        tokenizer.src_vocab_size, tokenizer.tgt_vocab_size)
    seen: list[tuple[int, ...]] = []
    real_encode = model.encode

    def spy(src):
        seen.extend(tuple(row[:n].tolist()) for row, n in zip(*src))
        return real_encode(src)

    monkeypatch.setattr(model, "encode", spy)
    lines = es_en[0][:6] + [""]
    decode = DecodeConfig(beam_size=2, max_len_b=3, max_len_a=0.0)
    translate_mod.search_lines(model, tokenizer, lines, decode, torch.device("cpu"))
    expected = tokenizer.encode_source(lines[:-1])  # the empty line is never encoded
    assert sorted(seen) == sorted(map(tuple, expected))

    seen.clear()
    monkeypatch.setattr(Tokenizer, "encode_source", _sentinel_encode)
    translate_mod.search_lines(model, tokenizer, lines, decode, torch.device("cpu"))
    assert seen == [tuple(SENTINEL)] * 6
