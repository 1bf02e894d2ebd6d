"""Prepared caption splits: what is written reads back, videos are padded and counted,
training batches are drawn at random (not by caption length), and the shift augmentation
moves pixels as torchvision's RandomCrop(padding, padding_mode="edge") does."""
from __future__ import annotations

import numpy as np
import torch

from seq2seq.data.tokenizer import BOS, EOS, PAD
from seq2seq.tasks.captioning.arrays import CaptionArrays, shifted, write_captioned


def written(tmp_path, shift: int = 0) -> tuple[CaptionArrays, list[np.ndarray]]:
    rng = np.random.default_rng(0)
    videos = [rng.integers(0, 256, (t, 1, 4, 5), dtype=np.uint8) for t in (1, 3, 2)]
    captions = [[[5, 6, 7]], [[8], [9, 9]], [[5]]]  # the second video has two captions
    write_captioned(tmp_path / "train", videos, (3, 1, 4, 5), captions, np.dtype(np.uint16))
    return CaptionArrays(tmp_path / "train", shift=shift), videos


def test_pairs_read_back_with_their_images(tmp_path):
    arrays, videos = written(tmp_path)
    assert len(arrays) == 4 and arrays.n_images == 3
    assert arrays.frames.tolist() == [1, 3, 2] and arrays.owner.tolist() == [0, 1, 1, 2]
    b = arrays.collate(np.array([1, 2]))  # the second video's two captions
    assert b.src.lens.tolist() == [3, 3] and b.src.values.shape == (2, 3, 1, 4, 5)
    assert torch.equal(b.src.values[0], torch.from_numpy(videos[1]))
    assert b.tgt_in.tolist() == [[BOS, 8, PAD], [BOS, 9, 9]]
    assert b.tgt_out.tolist() == [[8, EOS, PAD], [9, 9, EOS]]
    src = arrays.source(np.array([0, 2]))  # padded to the longer video, padding zero
    assert src.values.shape == (2, 2, 1, 4, 5) and not src.values[0, 1].any()


def test_batches_are_not_grouped_by_caption_length(tmp_path):
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (1, 1, 2, 2), dtype=np.uint8) for _ in range(400)]
    captions = [[[5] * (1 + i % 8)] for i in range(400)]
    write_captioned(tmp_path / "t", images, (1, 1, 2, 2), captions, np.dtype(np.uint16))
    arrays = CaptionArrays(tmp_path / "t")
    batches = arrays.batches(max_tokens=10_000, max_sentences=40, seed=1, epoch=0)
    assert sorted(np.concatenate(batches).tolist()) == list(range(400))
    lengths = [len(set(arrays.tgt.lens[b].tolist())) for b in batches]
    assert min(lengths) > 3  # one length per batch would be 1


def test_shifted_moves_each_image_and_repeats_its_edge():
    image = torch.arange(20, dtype=torch.uint8).view(1, 1, 1, 4, 5)  # (B, T, C, H, W)
    seen = set()
    for seed in range(40):
        out = shifted(image, 1, np.random.default_rng(seed))
        padded = torch.nn.functional.pad(image[0, 0].float(), (1, 1, 1, 1), mode="replicate")
        windows = {(dy, dx): padded[:, dy: dy + 4, dx: dx + 5] for dy in range(3)
                   for dx in range(3)}
        match = [k for k, w in windows.items() if torch.equal(w.to(torch.uint8), out[0, 0])]
        assert match, "not a 1-pixel shift of the image"
        seen.add(match[0])
    assert len(seen) == 9  # every shift in [-1, 1]^2 happens


def test_frames_of_a_video_move_alike_and_only_training_shifts(tmp_path):
    arrays, _ = written(tmp_path, shift=2)
    b = arrays.collate(np.array([1]))
    video = b.src.values[0]  # (T, C, H, W): one shift for all three frames
    original = torch.from_numpy(np.array(arrays.images[1]))
    per_frame = []
    for t in range(3):
        padded = torch.nn.functional.pad(original[t].float(), (2,) * 4, mode="replicate")
        per_frame.append({(dy, dx) for dy in range(5) for dx in range(5)
                          if torch.equal(padded[:, dy: dy + 4, dx: dx + 5].to(torch.uint8),
                                         video[t])})
    assert set.intersection(*per_frame)  # one offset explains every frame
    assert torch.equal(arrays.collate(np.array([1])).src.values, b.src.values)  # repeatable
    plain = CaptionArrays(tmp_path / "train")
    assert torch.equal(plain.collate(np.array([1])).src.values[0], original)
