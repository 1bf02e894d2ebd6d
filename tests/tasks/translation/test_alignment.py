"""Word alignments from attention (Pharaoh): piece-to-word sums with the source reversal
undone, by hand; and a small attention model trained to copy, whose alignments are the
diagonal once the reversal is undone (slow tier); seq2seq-translate --alignment and
--attention-png on a random attention run."""
from __future__ import annotations

import random

import pytest
import torch

from seq2seq.config.compose import load_config
from seq2seq.config.schema import DecodeConfig
from seq2seq.data.corpus import collate
from seq2seq.data.tokenizer import Tokenizer, load_spm, train_spm
from seq2seq.models.encoder_decoder import build_model
from seq2seq.tasks import token_loss
from seq2seq.tasks.translation.alignment import (hard_alignment, pharaoh, source_words,
                                                 target_words, word_attention)
from seq2seq.tasks.translation.cli import main
from seq2seq.tasks.translation.translator import Translator
from seq2seq.training.optim import clip_gradients

from conftest import corpus_lines, model_config, save_run, write_lines

W = "\u2581"


def test_target_words_group_pieces_at_the_word_marker():
    assert target_words([f"{W}the", f"{W}cat", "s", f"{W}sat"]) == [0, 1, 1, 2]
    assert target_words(["un", "known", f"{W}x"]) == [0, 0, 1]  # no marker on the first
    assert target_words([W, ",", f"{W}a"]) == [-1, 0, 1]  # a bare marker is no word
    assert source_words([1, 3, 2]) == [0, 1, 1, 1, 2, 2]


def test_word_attention_undoes_the_reversal_and_sums_pieces():
    # source words: "a" (1 piece), "bc" (2 pieces); read reversed: c b a <eos>
    # target words: x (1 piece), yz (2 pieces)
    weights = torch.tensor([[0.1, 0.1, 0.7, 0.1],    # x attends to a (position 2)
                            [0.4, 0.4, 0.1, 0.1],    # y attends to bc
                            [0.3, 0.3, 0.2, 0.2]])   # z too
    m = word_attention(weights, source_words([1, 2]), target_words([f"{W}x", f"{W}y", "z"]),
                       reversed_source=True)
    torch.testing.assert_close(m, torch.tensor([[0.7, 0.2], [0.3, 1.4]]))
    assert pharaoh(hard_alignment(m)) == "0-0 1-1"
    unreversed = word_attention(weights, source_words([1, 2]),
                                target_words([f"{W}x", f"{W}y", "z"]), reversed_source=False)
    assert pharaoh(hard_alignment(unreversed)) == "1-0 1-1"  # read as a b c: wrong
    with pytest.raises(ValueError, match="3 target pieces and 4 source pieces plus eos"):
        word_attention(weights, source_words([1, 3]), [0, 1, 1], True)


WORDS = ["kato", "miru", "sen", "palo", "tiku", "ren", "bo", "luma"]


def _copy_data(rng: random.Random, n: int, shortest: int = 5, longest: int = 9) -> list[str]:
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(shortest, longest)))
            for _ in range(n)]


def _train_copier(root) -> Translator:
    """An attention model trained to copy sentences of 5-9 made-up words (bpe pieces,
    several a word), the source reversed as in training: about 2 minutes on 2 cores."""
    rng = random.Random(0)
    path = train_spm(_copy_data(rng, 2000), root / "spm", vocab_size=30, model_type="bpe")
    tok = Tokenizer(load_spm(path), load_spm(path), reverse_source=True)
    torch.manual_seed(0)
    model = build_model(model_config(emb_dim=32, hidden_dim=64, layers=1, attention="general"),
                        tok.src_vocab_size, tok.tgt_vocab_size)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(1500):
        lines = _copy_data(rng, 64)
        b = collate(tok.encode_source(lines), tok.encode_target(lines))
        loss = token_loss(model, b) / b.n_tokens
        opt.zero_grad()
        loss.backward()
        clip_gradients(list(model.parameters()), 5.0)
        opt.step()
    return Translator(model, tok, DecodeConfig(beam_size=5, max_len_a=2.0),
                      torch.device("cpu"))


@pytest.mark.slow
def test_a_copying_model_aligns_on_the_diagonal(tmp_path):
    """Each copied word's link points at itself once the reversal is undone, or (a
    unidirectional encoder's state at the previous word still holds the next one, read
    just before it) at one of the two words before it; never at the mirrored position the
    reversed reading would give. Measured: 85% of links on the diagonal, the rest 1 or 2
    words before it; 34% of sentences wholly on it."""
    copier = _train_copier(tmp_path)
    lines = _copy_data(random.Random(1), 200)
    for beam in (1, 5):
        hyps = copier.hypotheses(lines, copier.settings(beam), attention=True)
        out = copier.output_lines(hyps, 1, sources=lines)
        copied = [(src, o.split(" ||| ")[1]) for src, o in zip(lines, out)
                  if o.split(" ||| ")[0] == src]
        assert len(copied) >= 190, out  # the model copies
        offsets = [int(link.split("-")[0]) - int(link.split("-")[1])
                   for _, links in copied for link in links.split()]
        assert len(offsets) == sum(len(src.split()) for src, _ in copied)
        assert sum(d == 0 for d in offsets) >= 0.8 * len(offsets), sorted(offsets)
        assert set(offsets) <= {-2, -1, 0}, sorted(offsets)
        diagonal = sum(links == pharaoh([(i, i) for i in range(len(src.split()))])
                       for src, links in copied)
        assert diagonal >= 0.3 * len(copied)  # whole sentences on the diagonal (34%)


def test_output_lines_with_alignments_and_nbest(attention_run, tokenizer):
    lines = ["En el principio.", "", "Dios dijo."]
    t = Translator.from_run(attention_run["attention"], device="cpu")
    decode = t.settings(3, 2)
    out = t.output_lines(t.hypotheses(lines, decode, attention=True), 2, sources=lines)
    assert len(out) == 6
    assert out[0].startswith("0 ||| ") and [len(o.split(" ||| ")) for o in out] == [4] * 6
    assert out[2] == out[3] == "1 |||  ||| -inf ||| "  # an empty line keeps its nbest lines
    single = t.output_lines(t.hypotheses(lines, t.settings(3), attention=True), 1,
                            sources=lines)
    assert single[1] == " ||| " and len(single[2].split(" ||| ")) == 2


@pytest.fixture(scope="module")
def attention_run(tokenizer, tmp_path_factory):
    """A random attention model saved as a run directory, and a model without attention."""
    root = tmp_path_factory.mktemp("attention-runs")
    runs = {}
    for name, extra in (("attention", ["model/decoder=attention"]), ("plain", [])):
        cfg = load_config(["debug=smoke", "decode.beam_size=3", "decode.max_len_a=0.8",
                           *extra])
        torch.manual_seed(0)
        model = build_model(cfg.model, tokenizer.src_vocab_size, tokenizer.tgt_vocab_size)
        with torch.no_grad():  # sharper than the 0.08 init: outputs differ between lines
            for p in model.parameters():
                p.uniform_(-0.6, 0.6)
        runs[name] = save_run(root / name, tokenizer, cfg, model)
    return runs


def test_translate_alignment_and_heat_maps(attention_run, tmp_path, capsys):
    lines = corpus_lines("dev", "es", 4)
    lines = lines[:2] + [""] + lines[2:]
    src = write_lines(tmp_path / "src.es", lines)
    main([str(attention_run["attention"]), "--input", str(src)])
    plain = capsys.readouterr().out.splitlines()
    maps = tmp_path / "maps"
    main([str(attention_run["attention"]), "--input", str(src), "--alignment",
          "--attention-png", str(maps)])
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(lines)
    assert [o.split(" ||| ")[0] for o in out] == plain  # the same translations
    for line, o in zip(lines, out):
        text, links = o.split(" ||| ")
        pairs = [tuple(map(int, link.split("-"))) for link in links.split()]
        assert [j for _, j in pairs] == list(range(len(text.split())))  # each target word
        assert all(0 <= i < len(line.split()) for i, _ in pairs)
    assert sorted(p.name for p in maps.iterdir()) == ["000001.png", "000002.png",
                                                      "000004.png", "000005.png"]
    assert (maps / "000001.png").read_bytes()[:4] == b"\x89PNG"


def test_alignment_of_a_model_without_attention_is_one_line(attention_run, tmp_path, capsys):
    src = write_lines(tmp_path / "src.es", ["Hola.", "En el principio."])
    with pytest.raises(SystemExit) as exc:
        main([str(attention_run["plain"]), "--input", str(src), "--alignment"])
    assert exc.value.code != 0
    err = capsys.readouterr().err.strip()
    assert err == ("seq2seq-translate: error: --alignment needs a model with attention; this "
                   "one has none (model.decoder.attention=none)"), err
    (tmp_path / "file").write_text("x")
    with pytest.raises(SystemExit):
        main([str(attention_run["attention"]), "--input", str(src), "--attention-png",
              str(tmp_path / "file")])
    assert "--attention-png names a file" in capsys.readouterr().err
