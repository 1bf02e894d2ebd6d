"""The Python API: a trained run (or an ensemble of runs) that translates text.

    from seq2seq import Translator
    t = Translator.from_run("runs/demo")
    t.translate(["Hola.", "En el principio creó Dios los cielos y la tierra."], beam=5)
    t.translate_nbest(["Hola."], beam=5, nbest=3)     # [[(text, score), ...]]

Text goes the same way as in training: sentencepiece ids (source reversed), sorted by
length and decoded in batches by beam search (greedy for beam 1), detokenised, and
returned in input order; an empty line gives an empty translation. `seq2seq-translate`
is a command-line shell over this class.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch
from torch import nn
from tqdm import tqdm

from seq2seq.config.compose import (DECODE_PRECISIONS, DecodeConfig, TrainConfig, check_decode,
                                    decode_settings)
from seq2seq.data.sources import Source
from seq2seq.data.tokenizer import Tokenizer
from seq2seq.decoding.ensemble import Ensemble, check_shared_vocabulary
from seq2seq.decoding.search import Hypothesis, beam_search, greedy, max_lengths
from seq2seq.decoding.trained import load_run as load_trained
from seq2seq.export.locate import locate
from seq2seq.tasks import task_class
from seq2seq.tasks.translation.alignment import alignment_line, line_attention
from seq2seq.training.hardware import autocast, pick_device, pick_precision


def load_run(path: Path, device: torch.device, command: str = "seq2seq-translate"
             ) -> tuple[nn.Module, Tokenizer, TrainConfig]:
    """Model (in eval mode), tokenizer and config of a run directory or checkpoint file of a
    text-to-text task that `command` reads (translation, a language model, or a task of
    its own that builds its model as they do); another task's run is refused."""
    run = load_trained(path, command,
                       lambda cfg, tok, _: task_class(cfg.task).build_model(cfg.model, tok),
                       device)
    return run.model, run.tokenizer, run.cfg


@torch.inference_mode()
def search_lines(model: nn.Module, tok: Tokenizer, lines: Sequence[str], decode: DecodeConfig,
                 device: torch.device, progress: bool = False,
                 attention: bool = False) -> list[list[Hypothesis]]:
    """The n-best hypotheses of every line, in input order ([] for an empty line);
    `progress`: a bar of sentences done on stderr; `attention`: each with its weights."""
    was_training = model.training
    model.eval()
    results: list[list[Hypothesis]] = [[] for _ in lines]
    todo = [i for i, line in enumerate(lines) if line.strip()]
    src = tok.encode_source([lines[i] for i in todo]) if todo else []
    with tqdm(total=len(todo), desc="translating", unit=" sentences",
              disable=not progress) as bar:
        for i, hyps in zip(todo, decode_ids(model, src, decode, device, bar.update,
                                            attention)):
            results[i] = hyps
    model.train(was_training)
    return results


@torch.inference_mode()
def decode_ids(model: nn.Module, src: Sequence[Sequence[int]], decode: DecodeConfig,
               device: torch.device, done: Callable[[int], object] = lambda n: None,
               attention: bool = False) -> list[list[Hypothesis]]:
    """The n-best hypotheses of every (non-empty) source id sequence, in input order.

    Sentences of similar length are searched together, `decode.batch_size` at a time;
    `done(n)` hears of each batch's n sentences as it finishes."""
    results: list[list[Hypothesis]] = [[] for _ in src]
    precision = pick_precision(decode.precision, device, "decode.precision")
    order = sorted(range(len(src)), key=lambda j: len(src[j]))  # similar lengths together
    for start in range(0, len(order), decode.batch_size):
        chunk = order[start: start + decode.batch_size]
        batch = Source.of_ids([src[j] for j in chunk])  # (B, S) padded ids, lengths
        for j, h in zip(chunk, search_batch(model, batch, decode, device, precision,
                                            attention)):
            results[j] = h
        done(len(chunk))
    return results


def search_batch(model, batch: Source, decode: DecodeConfig, device: torch.device,
                 precision: str, attention: bool = False) -> list[list[Hypothesis]]:
    """The n-best hypotheses of one batch of sources (greedy for beam 1), in its order;
    hypotheses end at decode.max_len_a * source length + decode.max_len_b, and at
    decode.max_len. `attention`: each with the weights of its path (search.py)."""
    max_len = max_lengths(batch.lens, decode.max_len_a, decode.max_len_b, decode.max_len)
    with autocast(device, precision):
        src = batch.to(device)
        if decode.beam_size == 1:
            return [[h] for h in greedy(model, src, max_len, decode.length_penalty,
                                        attention)]
        return beam_search(model, src, max_len, beam_size=decode.beam_size,
                           length_penalty=decode.length_penalty, nbest=decode.nbest,
                           attention=attention)


class Translator:
    """A model (or an `Ensemble`), its tokenizer and its decoding settings."""

    def __init__(self, model: nn.Module, tokenizer: Tokenizer, decode: DecodeConfig,
                 device: torch.device, max_train_len: Optional[int] = None):
        self.model, self.tokenizer, self.decode = model.eval(), tokenizer, decode
        self.device = device
        self.max_train_len = max_train_len  # longest source training saw, in pieces

    @classmethod
    def from_run(cls, *runs: str | Path, device: str = "auto") -> "Translator":
        """From a run directory or checkpoint; several make an ensemble that averages the
        members' log-probabilities (they must share the target vocabulary). Decoding
        settings are the first run's `decode` config."""
        if not runs:
            raise ValueError("Translator.from_run needs at least one run directory")
        runs = locate(runs)  # hf://owner/name, an ensemble export's members
        dev = pick_device(device)
        loaded = [load_run(Path(r), dev) for r in runs]
        model, tok, cfg = loaded[0]
        if len(loaded) > 1:
            check_shared_vocabulary([t for _, t, _ in loaded], [str(r) for r in runs])
            model = Ensemble([m for m, _, _ in loaded])
        return cls(model, tok, decode_settings(cfg), dev, max_train_len=cfg.data.max_len)

    def use_precision(self, precision: str) -> None:
        """Search in `precision` from now on (fp32 | bf16 | int8 | auto), checked here."""
        if precision not in DECODE_PRECISIONS:
            raise ValueError(f"precision {precision!r}: one of {', '.join(DECODE_PRECISIONS)}")
        pick_precision(precision, self.device, "precision")
        self.decode = dataclasses.replace(self.decode, precision=precision)

    def settings(self, beam: Optional[int] = None, nbest: int = 1, *,
                 length_penalty: Optional[float] = None, max_len_a: Optional[float] = None,
                 max_len_b: Optional[int] = None, max_len: Optional[int] = None,
                 batch_size: Optional[int] = None,
                 precision: Optional[str] = None) -> DecodeConfig:
        """This translator's decode config with the given fields changed, checked."""
        given = {"beam_size": beam, "nbest": nbest, "length_penalty": length_penalty,
                 "max_len_a": max_len_a, "max_len_b": max_len_b, "max_len": max_len,
                 "batch_size": batch_size,
                 "precision": precision}
        cfg = dataclasses.replace(self.decode,
                                  **{k: v for k, v in given.items() if v is not None})
        check_decode(cfg)  # the config's own checks: one line naming the decode key
        return cfg

    def hypotheses(self, lines: Sequence[str], decode: DecodeConfig, progress: bool = False,
                   attention: bool = False) -> list[list[Hypothesis]]:
        """Token-level n-best lists, for callers that want ids and scores (and with
        `attention`, each token's weights over the source pieces: `Hypothesis.attention`)."""
        return search_lines(self.model, self.tokenizer, lines, decode, self.device, progress,
                            attention)

    def translate(self, lines: Sequence[str], beam: Optional[int] = None) -> list[str]:
        """One detokenised translation per line (beam: default the run's beam size)."""
        hyps = self.hypotheses(lines, self.settings(beam))
        texts = self.tokenizer.decode_target([h[0].ids if h else [] for h in hyps])
        return [text if h else "" for text, h in zip(texts, hyps)]

    def translate_nbest(self, lines: Sequence[str], beam: Optional[int] = None,
                        nbest: int = 1) -> list[list[tuple[str, float]]]:
        """The `nbest` best (text, score) of each line, best first; [] for an empty line."""
        return self.texts(self.hypotheses(lines, self.settings(beam, nbest)))

    def texts(self, hyps: list[list[Hypothesis]]) -> list[list[tuple[str, float]]]:
        """(detokenised text, score) of each hypothesis of each line."""
        return [list(zip(self.tokenizer.decode_target([h.ids for h in line]),
                         [h.score for h in line])) if line else [] for line in hyps]

    def endpoint(self, limits):
        """What seq2seq-serve answers with: POST /runs/NAME/translate."""
        from seq2seq.tasks.translation.serving import TranslateEndpoint
        return TranslateEndpoint(self, limits)

    def check_attention(self, what: str) -> None:
        """Refuse up front, naming `what` asked for it, when a model attends to nothing."""
        for member in getattr(self.model, "members", [self.model]):
            if getattr(member.decoder, "attention", None) is None:
                raise ValueError(f"{what} needs a model with attention; this one has none "
                                 "(model.decoder.attention=none)")

    def has_attention(self) -> bool:
        try:
            self.check_attention("")
        except ValueError:
            return False
        return True

    def attention_maps(self, lines: Sequence[str], hyps: list[list[Hypothesis]]
                       ) -> list[Optional[tuple[list[str], list[str], torch.Tensor]]]:
        """For each line, its best hypothesis's (source words, target words, attention
        (target words, source words)); None for an empty line. `hyps`: searched with
        attention (`hypotheses(..., attention=True)`)."""
        return [line_attention(self.tokenizer, src, h[0]) if h else None
                for src, h in zip(lines, hyps)]

    def output_lines(self, hyps: list[list[Hypothesis]], nbest: int, first_index: int = 0,
                     sources: Optional[Sequence[str]] = None) -> list[str]:
        """What seq2seq-translate writes: a translation per line (an empty line for an empty
        input), or with nbest > 1 exactly nbest lines `index ||| text ||| score` each.
        `sources` (the input lines, hypotheses searched with attention): each output ends
        in ` ||| ` and its Pharaoh word alignment (seq2seq/tasks/translation/alignment.py)."""
        links = None if sources is None else [
            [alignment_line(self.tokenizer, src, h) for h in line] or [""]
            for src, line in zip(sources, hyps)]
        if nbest == 1:
            texts = self.tokenizer.decode_target([h[0].ids if h else [] for h in hyps])
            out = [t if h else "" for t, h in zip(texts, hyps)]
            return out if links is None else [f"{o} ||| {a[0]}" for o, a in zip(out, links)]
        out = []
        for i, line in enumerate(self.texts(hyps)):
            tail = [""] * nbest if links is None else [f" ||| {a}" for a in links[i]]
            out.extend(f"{i + first_index} ||| {text} ||| {score:.4f}{end}"
                       for (text, score), end in zip(line, tail))
            out.extend(f"{i + first_index} |||  ||| -inf{'' if links is None else ' ||| '}"
                       for _ in range(nbest - len(line)))
        return out
