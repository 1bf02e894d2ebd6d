"""The Python API of a captioner: a trained run (or an ensemble of runs) that describes images.

    from seq2seq import Captioner
    c = Captioner.from_run("runs/emoji")
    c.caption(["apple.png", "firefighter.png"], beam=5)    # ["red apple", "firefighter"]
    c.caption_nbest(["apple.png"], beam=5, nbest=3)        # [[(text, score), ...]]
    c.caption(["video.npy"])                               # a frames run: .npy or a folder

Images go the way they went in training: read and resized by seq2seq/tasks/captioning/images.py to
the run's data.image_* (the saved transform), then the same batched beam search as
translation (greedy for beam 1), detokenised, in input order. A Captioner is a Translator
whose source lines are image paths: decode settings, n-best output and ensembles are
translation's. `seq2seq-caption` is a command-line shell over this class.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from seq2seq.config.compose import DecodeConfig, TrainConfig, decode_settings
from seq2seq.data.sources import Source
from seq2seq.data.tokenizer import Tokenizer
from seq2seq.decoding.ensemble import Ensemble, check_shared_vocabulary
from seq2seq.decoding.search import Hypothesis
from seq2seq.decoding.trained import load_run
from seq2seq.export.locate import locate
from seq2seq.tasks.captioning.attention_png import word_maps
from seq2seq.tasks.captioning.encoders import ImageShape, build_caption_model
from seq2seq.tasks.captioning.images import is_video, load_frames, load_image
from seq2seq.tasks.translation.translator import Translator, search_batch
from seq2seq.training.hardware import pick_device, pick_precision


def image_shape(cfg: TrainConfig) -> ImageShape:
    d = cfg.data
    return ImageShape(d.image_channels, d.image_height, d.image_width)


def load_caption_run(path: Path, device: torch.device) -> tuple[nn.Module, Tokenizer, TrainConfig]:
    """Model (in eval mode), tokenizer and config of a captioning run or checkpoint."""
    r = load_run(path, "seq2seq-caption",
                 lambda cfg, tok, _: build_caption_model(cfg.model, image_shape(cfg),
                                                         tok.tgt_vocab_size), device)
    return r.model, r.tokenizer, r.cfg


def frames_source(images: Sequence[np.ndarray]) -> Source:
    """Images or videos, each (T_i, C, H, W) uint8, as one source padded to the longest."""
    lens = torch.tensor([len(x) for x in images], dtype=torch.long)
    values = torch.zeros(len(images), int(lens.max()), *images[0].shape[1:], dtype=torch.uint8)
    for i, x in enumerate(images):
        values.numpy()[i, : len(x)] = x  # x may be read-only (an image's pixels)
    return Source(values, lens)


@torch.inference_mode()
def search_sources(model: nn.Module, sources: Iterable[Source], decode: DecodeConfig,
                   device: torch.device, attention: bool = False) -> list[list[Hypothesis]]:
    """The n-best hypotheses of every row of every source batch, in order (`attention`:
    each with its weights over the image's grid cells)."""
    was_training = model.training
    model.eval()
    precision = pick_precision(decode.precision, device, "decode.precision")
    out = [h for batch in sources
           for h in search_batch(model, batch, decode, device, precision, attention)]
    model.train(was_training)
    return out


class Captioner(Translator):
    """A captioning model (or an `Ensemble`), its tokenizer, decode settings and images' size."""

    def __init__(self, model: nn.Module, tokenizer: Tokenizer, decode: DecodeConfig,
                 device: torch.device, image: ImageShape):
        super().__init__(model, tokenizer, decode, device)
        self.image = image

    @classmethod
    def from_run(cls, *runs: str | Path, device: str = "auto") -> "Captioner":
        """From a run directory or checkpoint; several make an ensemble (one vocabulary,
        one image size). Decoding settings are the first run's `decode` config."""
        if not runs:
            raise ValueError("Captioner.from_run needs at least one run directory")
        runs = locate(runs)  # hf://owner/name, an ensemble export's members
        dev = pick_device(device)
        loaded = [load_caption_run(Path(r), dev) for r in runs]
        model, tok, cfg = loaded[0]
        for (_, _, other), name in zip(loaded[1:], runs[1:]):
            if image_shape(other) != image_shape(cfg):
                raise ValueError(f"{name}: its images are {image_shape(other)}, "
                                 f"{runs[0]}'s {image_shape(cfg)}; an ensemble needs one size")
        if len(loaded) > 1:
            check_shared_vocabulary([t for _, t, _ in loaded], [str(r) for r in runs])
            model = Ensemble([m for m, _, _ in loaded])
        return cls(model, tok, decode_settings(cfg), dev, image_shape(cfg))

    def load(self, path: str | Path) -> np.ndarray:
        """One image (1, C, H, W) or video (T, C, H, W), uint8, as training saw them."""
        size = (self.image.height, self.image.width, self.image.channels)
        path = Path(path)
        return load_frames(path, *size) if is_video(path) else load_image(path, *size)[None]

    def hypotheses(self, paths: Sequence[str], decode: DecodeConfig, progress: bool = False,
                   attention: bool = False) -> list[list[Hypothesis]]:
        """Token-level n-best lists of the images at `paths`, read a batch at a time
        (`attention`: each with its weights over the grid cells, `Hypothesis.attention`)."""
        def batches() -> Iterable[Source]:
            with tqdm(total=len(paths), desc="captioning", unit=" images",
                      disable=not progress) as bar:
                for start in range(0, len(paths), decode.batch_size):
                    chunk = paths[start: start + decode.batch_size]
                    yield frames_source([self.load(p) for p in chunk])
                    bar.update(len(chunk))
        return search_sources(self.model, batches(), decode, self.device, attention)

    def image_hypotheses(self, images: Sequence[np.ndarray], decode: DecodeConfig,
                         attention: bool = False) -> list[list[Hypothesis]]:
        """Token-level n-best lists of images already read (`load`'s arrays)."""
        size = decode.batch_size
        batches = (frames_source(images[i: i + size]) for i in range(0, len(images), size))
        return search_sources(self.model, batches, decode, self.device, attention)

    def endpoint(self, limits):
        """What seq2seq-serve answers with: POST /runs/NAME/caption (an image's bytes)."""
        from seq2seq.tasks.captioning.serving import CaptionEndpoint
        return CaptionEndpoint(self, limits)

    def attention_maps(self, paths: Sequence[str], hyps: list[list[Hypothesis]]
                       ) -> list[tuple[list[str], torch.Tensor]]:
        """For each image, its best caption's words and each word's attention over the
        grid, (words, h, w). `hyps`: searched with attention."""
        return [self.word_maps(line[0]) for line in hyps]

    def word_maps(self, h: Hypothesis) -> tuple[list[str], torch.Tensor]:
        """A caption's words and the attention each was chosen with over the grid,
        (words, h, w); `h` searched with attention."""
        pieces = [self.tokenizer.tgt.id_to_piece(i) for i in h.ids]
        maps = word_maps(h.attention[:-1], pieces, self._grid())  # as each word was chosen
        words = self.tokenizer.decode_target([h.ids])[0].split()
        return (words if len(words) == len(maps) else [f"w{j}" for j in range(len(maps))],
                maps)

    def has_attention(self) -> bool:
        """An attention model over an image grid: one whose words' attention has panels."""
        try:
            self._grid()
        except ValueError:
            return False
        return super().has_attention()

    def _grid(self) -> tuple[int, int]:
        members = getattr(self.model, "members", [self.model])
        grids = {getattr(m.encoder, "grid", None) for m in members}
        if None in grids or len(grids) != 1:
            raise ValueError("attention panels are drawn for image runs (model/encoder=image)")
        return grids.pop()

    def caption(self, paths: Sequence[str], beam: Optional[int] = None) -> list[str]:
        """One caption per image (beam: default the run's beam size)."""
        return self.translate(paths, beam)

    def caption_nbest(self, paths: Sequence[str], beam: Optional[int] = None,
                      nbest: int = 1) -> list[list[tuple[str, float]]]:
        """The `nbest` best (caption, score) of each image, best first."""
        return self.translate_nbest(paths, beam, nbest)
