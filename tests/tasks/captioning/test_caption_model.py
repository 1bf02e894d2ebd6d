"""Captioning models (seq2seq/tasks/captioning/encoders.py on translation's decoder): teacher
forcing equals step-by-step decoding, an image (or a video) captions the same alone and in a
padded batch, beam 1 is greedy, reversed frames, padding frames, the torchvision backbone,
and a small model that learns to read digit strings it has never seen the handwriting of."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from torch import nn

from conftest import assert_forced_equals_stepwise, recipe_module
from seq2seq.config.compose import DecoderConfig, ModelConfig
from seq2seq.data.corpus import Batch
from seq2seq.data.sources import Source
from seq2seq.data.tokenizer import BOS, EOS, PAD
from seq2seq.decoding.search import beam_search, greedy, max_lengths
from seq2seq.tasks import token_loss
from seq2seq.tasks.captioning.encoders import (FRAME_ENCODER, IMAGE_ENCODER, FrameEncoder,
                                               ImageEncoder, ImageEncoderConfig, ImageShape,
                                               build_caption_model)

digit_strings = recipe_module("digit-strings", "build_data")

VOCAB = 12
IMAGE = ImageShape(1, 10, 24)  # a grey canvas; 2 blocks -> a 3 x 6 grid
FRAME = ImageShape(3, 10, 10)  # RGB frames; 2 blocks -> 3 x 3
FRAME_LENS = [3, 1, 4, 2]  # the batch's videos: the longest 4, the others padded

DECODERS = {"recurrent": dict(attention="none"), "dot": dict(attention="dot"),
            "general+feed": dict(attention="general", input_feeding=True)}
IMAGE_CASES = [pytest.param("image", feed, "lstm", True, dec, id=f"image-{feed}-{dec}")
               for feed in ("input", "state") for dec in DECODERS]
IMAGE_CASES.append(pytest.param("image", "state", "gru", True, "general+feed",
                                id="image-state-general+feed-gru"))
FRAME_CASES = [pytest.param("frames", "input", "lstm", rev, dec, id=f"frames-rev{rev}-{dec}")
               for rev in (True, False) for dec in ("recurrent", "dot")]
FRAME_CASES.append(pytest.param("frames", "input", "gru", True, "dot", id="frames-revTrue-dot-gru"))
CASES = IMAGE_CASES + FRAME_CASES


def caption_config(kind: str = "image", feed: str = "input", cell: str = "lstm",
                   reverse: bool = True, decoder: str = "recurrent", *, emb_dim: int = 8,
                   hidden_dim: int = 16, layers: int = 2, init_range: float = 0.3,
                   dropout: float = 0.0, cnn_width: int = 4, cnn_blocks: int = 2,
                   **encoder) -> ModelConfig:
    """A tiny caption model's config, as seq2seq/conf/model/encoder/{image,frames}.yaml compose it."""
    return ModelConfig(
        emb_dim=emb_dim, hidden_dim=hidden_dim, layers=layers, dropout=dropout,
        init_range=init_range, reverse_source=reverse, cell=cell,
        encoder=ImageEncoderConfig(build=IMAGE_ENCODER if kind == "image" else FRAME_ENCODER,
                                   cnn_width=cnn_width, cnn_blocks=cnn_blocks, image_feed=feed,
                                   **encoder),
        decoder=DecoderConfig(**DECODERS[decoder]))


def make(kind, feed, cell, reverse, decoder, seed: int = 0):
    """A seeded random caption model in eval mode (BatchNorm on its running statistics:
    rows of a batch never see each other) and its image shape."""
    torch.manual_seed(seed)
    shape = IMAGE if kind == "image" else FRAME
    model = build_caption_model(caption_config(kind, feed, cell, reverse, decoder), shape, VOCAB)
    return model.eval(), shape


def videos(kind: str, shape: ImageShape, seed: int = 1, pad_value: int | None = None) -> Source:
    """Four random uint8 images (one frame each) or videos of FRAME_LENS frames, padded to the
    longest; padding frames hold noise (or `pad_value`), which must never matter."""
    g = torch.Generator().manual_seed(seed)
    lens = torch.tensor([1, 1, 1, 1] if kind == "image" else FRAME_LENS)
    values = torch.randint(0, 256, (4, int(lens.max()), *shape), generator=g, dtype=torch.uint8)
    if pad_value is not None:
        for i, n in enumerate(lens.tolist()):
            values[i, n:] = pad_value
    return Source(values, lens)


def alone(src: Source, i: int) -> Source:
    """Row i as a batch of one, cut to its real frames."""
    n = int(src.lens[i])
    return Source(src.values[i:i + 1, :n].clone(), src.lens[i:i + 1].clone())


def targets(rows: int, length: int = 5, seed: int = 2) -> torch.Tensor:
    """(rows, length) teacher-forced inputs: bos then random real tokens."""
    g = torch.Generator().manual_seed(seed)
    tgt = torch.randint(EOS + 1, VOCAB, (rows, length), generator=g)
    tgt[:, 0] = BOS
    return tgt


def forced_log_probs(model, src: Source, tgt_in: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.log_softmax(model.logits(model(src, tgt_in)), -1)


# ------------------------------------------------------------------ teacher forcing
@pytest.mark.parametrize("kind,feed,cell,reverse,decoder", CASES)
def test_teacher_forcing_equals_step_by_step_decoding(kind, feed, cell, reverse, decoder):
    model, shape = make(kind, feed, cell, reverse, decoder)
    if kind == "image":
        assert isinstance(model.encoder, ImageEncoder) and model.encoder.feed == feed
    else:
        assert isinstance(model.encoder, FrameEncoder) and model.encoder.reverse == reverse
    src = videos(kind, shape)
    tgt_in = targets(src.rows)
    assert_forced_equals_stepwise(model, Batch(src, tgt_in, tgt_in, tgt_in.numel()))


def test_image_feed_input_reads_the_image_first_and_state_starts_from_it():
    """feed=input: the encoder gives a zero state and the feature as `first`, which `start`
    consumes (a step before <bos>); feed=state: no `first`, every layer's h from the image."""
    src = videos("image", IMAGE)
    model, _ = make("image", "input", "lstm", True, "recurrent")
    raw = model.encoder(src, memory=False)
    assert raw.first is not None and raw.first.shape == (4, 8)
    assert not raw.h.any() and not raw.c.any()
    started = model.encode(src)
    assert started.first is None  # consumed: the step on the image moved the state
    assert started.h.abs().sum() > 0 and started.c.abs().sum() > 0
    model, _ = make("image", "state", "lstm", True, "recurrent")
    raw = model.encoder(src, memory=False)
    assert raw.first is None and raw.h.shape == raw.c.shape == (2, 4, 16)
    assert not torch.equal(raw.h[:, 0], raw.h[:, 1])  # two images, two states


# ------------------------------------------------------------------ batch invariance
@pytest.mark.parametrize("kind,feed,cell,reverse,decoder", CASES)
def test_alone_and_in_a_padded_batch_score_and_caption_the_same(kind, feed, cell, reverse,
                                                                  decoder):
    model, shape = make(kind, feed, cell, reverse, decoder)
    src = videos(kind, shape)
    tgt_in = targets(src.rows)
    batch_lp = forced_log_probs(model, src, tgt_in)
    max_len = max_lengths(src.lens, 1.5, 4)
    batch_hyps = greedy(model, src, max_len)
    assert not torch.allclose(batch_lp[0], batch_lp[1], atol=1e-4)  # the rows do differ
    for i in range(src.rows):
        one = alone(src, i)
        torch.testing.assert_close(forced_log_probs(model, one, tgt_in[i:i + 1])[0],
                                   batch_lp[i], atol=1e-5, rtol=0)
        (hyp,) = greedy(model, one, max_len[i:i + 1])
        assert hyp.ids == batch_hyps[i].ids
        assert hyp.score == pytest.approx(batch_hyps[i].score, abs=1e-4)


# ------------------------------------------------------------------ beam 1 == greedy
@pytest.mark.parametrize("kind,feed,cell,reverse,decoder", CASES)
def test_beam_one_is_greedy(kind, feed, cell, reverse, decoder):
    model, shape = make(kind, feed, cell, reverse, decoder)
    src = videos(kind, shape, seed=5)
    max_len = max_lengths(src.lens, 1.5, 4)
    greedy_hyps = greedy(model, src, max_len)
    beam_hyps = beam_search(model, src, max_len, beam_size=1)
    for g, (b,) in zip(greedy_hyps, beam_hyps):
        assert b.ids == g.ids
        assert b.score == pytest.approx(g.score, abs=1e-4)
        assert len(g.ids) <= int(max_len.max())


# ------------------------------------------------------------------ frames
FRAME_MODELS = [pytest.param(cell, dec, id=f"{cell}-{dec}")
                for cell, dec in (("lstm", "recurrent"), ("lstm", "dot"), ("gru", "dot"))]


def reversed_real_frames(src: Source) -> Source:
    """Each video's real frames in reverse order; padding stays at the end."""
    values = src.values.clone()
    for i, n in enumerate(src.lens.tolist()):
        values[i, :n] = src.values[i, :n].flip(0)
    return Source(values, src.lens)


def assert_same_state(a, b) -> None:
    for name in ("h", "c", "memory", "mask"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            torch.testing.assert_close(x, y, atol=1e-6, rtol=0, msg=name)


@pytest.mark.parametrize("cell,decoder", FRAME_MODELS)
def test_reverse_source_reads_the_real_frames_last_first(cell, decoder):
    model, shape = make("frames", "input", cell, True, decoder)
    src = videos("frames", shape)
    memory = model.decoder.reads_memory
    with torch.no_grad():
        assert model.encoder.reverse
        rev = model.encoder(src, memory=memory)
        model.encoder.reverse = False
        by_hand = model.encoder(reversed_real_frames(src), memory=memory)
        forward = model.encoder(src, memory=memory)
    assert_same_state(rev, by_hand)
    # and reversing does something: the videos of more than one frame end elsewhere
    longer = src.lens > 1
    assert not torch.allclose(rev.h[:, longer], forward.h[:, longer], atol=1e-4)
    torch.testing.assert_close(rev.h[:, ~longer], forward.h[:, ~longer], atol=1e-6, rtol=0)


@pytest.mark.parametrize("reverse", [True, False])
@pytest.mark.parametrize("cell,decoder", FRAME_MODELS)
def test_padding_frames_never_matter(cell, decoder, reverse):
    model, shape = make("frames", "input", cell, reverse, decoder)
    noisy, black, white = (videos("frames", shape), videos("frames", shape, pad_value=0),
                           videos("frames", shape, pad_value=255))
    assert not torch.equal(noisy.values, black.values)
    tgt_in = targets(noisy.rows)
    with torch.no_grad():
        states = [model.encode(s) for s in (noisy, black, white)]
    for other in states[1:]:
        assert_same_state(states[0], other)
    lps = [forced_log_probs(model, s, tgt_in) for s in (noisy, black, white)]
    for other in lps[1:]:
        torch.testing.assert_close(lps[0], other, atol=1e-6, rtol=0)
    max_len = max_lengths(noisy.lens, 1.5, 4)
    hyps = [[h.ids for h in greedy(model, s, max_len)] for s in (noisy, black, white)]
    assert hyps[0] == hyps[1] == hyps[2]


# ------------------------------------------------------------------ torchvision backbone
def resnet_caption_model(path, frozen: bool, decoder: str = "dot"):
    torch.manual_seed(3)  # another init, which the file's weights must replace
    cfg = caption_config("image", "input", decoder=decoder, init_range=0.08,
                         backbone="resnet18", weights=str(path), frozen=frozen)
    return build_caption_model(cfg, ImageShape(3, 64, 64), VOCAB)


@pytest.mark.parametrize("frozen", [True, False])
def test_resnet_backbone_keeps_the_files_weights_and_frozen_gets_no_gradients(resnet18_file,
                                                                               frozen):
    path, resnet = resnet18_file
    model = resnet_caption_model(path, frozen)
    expected = nn.Sequential(*list(resnet.children())[:-2]).state_dict()  # less avgpool, fc
    got = model.encoder.backbone.body.state_dict()
    assert got.keys() == expected.keys()
    for key, value in expected.items():  # untouched by uniform_init
        torch.testing.assert_close(got[key], value, atol=0, rtol=0, msg=key)
    assert model.encoder.backbone.channels == 512
    for name, p in model.named_parameters():  # every other parameter: uniform(-r, r)
        if not name.startswith("encoder.backbone."):
            assert p.detach().abs().max() <= 0.08, name
    assert any(p.detach().abs().max() > 0.08 for p in model.encoder.backbone.parameters())

    model.train()
    g = torch.Generator().manual_seed(0)
    src = Source(torch.randint(0, 256, (2, 1, 3, 64, 64), generator=g, dtype=torch.uint8),
                 torch.ones(2, dtype=torch.long))
    tgt_in = targets(2, 4)
    tgt_out = torch.cat([tgt_in[:, 1:], torch.full((2, 1), EOS)], 1)
    token_loss(model, Batch(src, tgt_in, tgt_out, tgt_out.numel())).backward()
    backbone = list(model.encoder.backbone.parameters())
    if frozen:
        assert not any(m.training for m in model.encoder.backbone.modules())
        assert all(p.grad is None and not p.requires_grad for p in backbone)
    else:
        assert model.encoder.backbone.training
        assert all(p.grad is not None for p in backbone)
    others = [p for n, p in model.named_parameters() if not n.startswith("encoder.backbone.")]
    assert all(p.grad is not None for p in others)  # the rest trains either way


# ------------------------------------------------------------------ it learns
def digit_data(split: str, n: int):
    """`n` digit strings of 1-3 digits as (N, 1, 1, H, W) uint8 images and their id lists
    (digit d -> id 4 + d)."""
    ds = digit_strings.build(split, n, seed=3, min_digits=1, max_digits=3)
    images = torch.from_numpy(digit_strings.to_uint8(ds.images))[:, None, None]
    return images, [[EOS + 1 + int(d) for d in c.split()] for c in ds.captions]


def shifted(images: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Each image moved by up to a pixel each way (the canvas has a blank pixel around)."""
    out = images.clone()
    for i, (dy, dx) in enumerate(rng.integers(-1, 2, size=(len(images), 2)).tolist()):
        out[i] = torch.roll(images[i], (dy, dx), dims=(-2, -1))
    return out


@pytest.mark.slow  # 50 s; the image and frames smoke runs of test_caption_cli.py train too
def test_a_small_model_learns_to_read_unseen_handwritten_digit_strings():
    """Show, Attend and Tell on the digits task (tuned: about 2,500 Adam steps of 32,
    under a minute on one core), greedy exact match on the test pool's handwriting."""
    start = time.monotonic()
    train_x, train_y = digit_data("train", 20000)
    test_x, test_y = digit_data("test", 400)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    cfg = caption_config("image", "input", decoder="dot", emb_dim=48, hidden_dim=48, layers=1,
                         init_range=0.08, dropout=0.2, cnn_width=16)
    model = build_caption_model(cfg, ImageShape(1, *train_x.shape[-2:]), EOS + 11)
    steps, batch, lr = 2500, 32, 0.003
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for step in range(steps):
        rows = rng.choice(len(train_y), batch, replace=False)
        tgt = [train_y[i] for i in rows]
        width = max(map(len, tgt)) + 1
        tgt_in = torch.full((batch, width), PAD)
        tgt_out = torch.full((batch, width), PAD)
        for j, t in enumerate(tgt):
            tgt_in[j, :len(t) + 1] = torch.tensor([BOS, *t])
            tgt_out[j, :len(t) + 1] = torch.tensor([*t, EOS])
        src = Source(shifted(train_x[rows], rng), torch.ones(batch, dtype=torch.long))
        n_tokens = int((tgt_out != PAD).sum())
        loss = token_loss(model, Batch(src, tgt_in, tgt_out, n_tokens)) / n_tokens
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        for group in opt.param_groups:  # constant, then linearly to 0 over the last half
            group["lr"] = lr * min(1.0, 2.0 * (1 - (step + 1) / steps))
    model.eval()
    src = Source(test_x, torch.ones(len(test_y), dtype=torch.long))
    hyps = greedy(model, src, max_lengths(src.lens, 0, 5))
    exact = float(np.mean([h.ids == y for h, y in zip(hyps, test_y)]))
    elapsed = time.monotonic() - start
    print(f"digit strings: exact match {exact:.3f} on {len(test_y)} test images, "
          f"{elapsed:.1f} s")
    assert exact >= 0.95, f"exact match {exact:.3f} after {elapsed:.0f} s"
