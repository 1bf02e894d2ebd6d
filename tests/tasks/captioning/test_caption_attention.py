"""A Show, Attend and Tell captioner's attention: the search keeps each caption's weights
over the image grid (equal to teacher forcing's), and seq2seq-caption --attention-png
draws an image and a panel per word; a model without attention refuses in one line."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from seq2seq import Captioner
from seq2seq.config.compose import load_config
from seq2seq.data.tokenizer import BOS
from seq2seq.tasks.captioning.attention_png import word_maps
from seq2seq.tasks.captioning.captioner import frames_source
from seq2seq.tasks.captioning.cli import main
from seq2seq.tasks.captioning.encoders import ImageShape, build_caption_model
from seq2seq.tasks.translation.alignment import target_words

from conftest import save_run

SIZES = ["debug=smoke", "model.emb_dim=8", "model.hidden_dim=8", "model.layers=1",
         "data.image_height=16", "data.image_width=16", "model.encoder.cnn_width=4",
         "model.encoder.cnn_blocks=2", "decode.beam_size=3", "decode.max_len_b=6"]


@pytest.fixture(scope="module")
def runs(tokenizer, tmp_path_factory) -> dict:
    """Random captioning runs, with attention over the grid and without, and 3 images."""
    root = tmp_path_factory.mktemp("caption-attention")
    out = {}
    for name, decoder in (("attention", "attention"), ("plain", "recurrent")):
        cfg = load_config(["experiment=digits_image", *SIZES, f"model/decoder={decoder}"])
        d = cfg.data
        torch.manual_seed(0)
        model = build_caption_model(cfg.model, ImageShape(d.image_channels, d.image_height,
                                                          d.image_width), tokenizer.tgt_vocab_size)
        with torch.no_grad():  # sharper than the 0.08 init: captions of several words
            for name_, p in model.named_parameters():
                if not name_.startswith("encoder.backbone"):
                    p.uniform_(-0.5, 0.5)
        out[name] = save_run(root / name, tokenizer, cfg, model)
    rng = np.random.default_rng(0)
    out["images"] = []
    for i in range(3):
        path = root / f"image{i}.png"
        Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8)).save(path)
        out["images"].append(str(path))
    return out


def test_caption_weights_equal_teacher_forced_and_cover_the_grid(runs):
    c = Captioner.from_run(runs["attention"], device="cpu")
    hyps = c.hypotheses(runs["images"], c.settings(3, 2), attention=True)
    h_, w_ = c.model.encoder.grid
    checked = 0
    for path, found in zip(runs["images"], hyps):
        src = frames_source([c.load(path)])
        for h in found:
            assert h.attention.shape == (len(h.ids) + 1, h_ * w_)
            with torch.no_grad():
                forced = c.model.attention_weights(src, torch.tensor([[BOS] + h.ids]))
            torch.testing.assert_close(h.attention, forced[0], rtol=1e-4, atol=1e-5)
            checked += bool(h.ids)
    assert checked >= 3
    (words, maps), = c.attention_maps(runs["images"][:1], hyps[:1])
    assert maps.shape == (len(words), h_, w_) and len(words) >= 1
    # each piece's weights sum to 1 over the grid: a word's map sums to its pieces' count
    pieces = target_words([c.tokenizer.tgt.id_to_piece(i) for i in hyps[0][0].ids])
    per_word = torch.tensor([pieces.count(w) for w in range(len(words))], dtype=torch.float)
    torch.testing.assert_close(maps.sum(dim=(1, 2)), per_word)


def test_word_maps_sum_the_pieces_of_a_word():
    W = "\u2581"
    weights = torch.tensor([[1.0, 0, 0, 0], [0, 0.5, 0.5, 0], [0, 0, 0, 1.0]])
    maps = word_maps(weights, [f"{W}red", f"{W}app", "le"], (2, 2))
    torch.testing.assert_close(maps, torch.tensor([[[1.0, 0], [0, 0]], [[0, 0.5], [0.5, 1.0]]]))
    with pytest.raises(ValueError, match="over a 2 x 2 grid"):
        word_maps(weights[:, :3], [f"{W}red", f"{W}app", "le"], (2, 2))


def test_caption_attention_png(runs, tmp_path, capsys):
    main([str(runs["attention"]), *runs["images"]])
    plain = capsys.readouterr().out
    panels = tmp_path / "panels"
    main([str(runs["attention"]), *runs["images"], "--attention-png", str(panels)])
    assert capsys.readouterr().out == plain  # the same captions
    assert sorted(p.name for p in panels.iterdir()) == ["000001.png", "000002.png",
                                                        "000003.png"]
    assert (panels / "000002.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(SystemExit):
        main([str(runs["plain"]), *runs["images"], "--attention-png", str(tmp_path / "x")])
    assert capsys.readouterr().err.strip() == (
        "seq2seq-caption: error: --attention-png needs a model with attention; this one has "
        "none (model.decoder.attention=none)")
