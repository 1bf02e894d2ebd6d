"""seq2seq-serve's translate endpoint: POST /runs/NAME/translate

    {"texts": ["Hola.", "En el principio."], "beam_size": 5, "nbest": 2,
     "length_penalty": 0.0, "alignment": false, "attention": false}
    -> {"results": [[{"text": "Hello.", "score": -1.93}, ...], ...]}   # n-best per text

The options default to the run's decode settings and are bounded by them (a beam at most
the run's beam size or 12, whichever is larger). For attention models, `alignment` adds
each hypothesis's Pharaoh links, and `attention` its words' attention,
{"source": [words], "target": [words], "weights": [[one per source word] per target word]}
(pieces summed into words, the source reversal undone). An empty text gets an empty list.
"""
from __future__ import annotations

from typing import Hashable, Optional

from seq2seq.config.compose import DecodeConfig
from seq2seq.data.sources import Source
from seq2seq.decoding.search import Beams, Hypothesis, max_lengths

from seq2seq.serving.endpoint import (BadRequest, Endpoint, Limits, known_keys, number, rounded,
                                      texts_of)
from seq2seq.tasks.translation.alignment import hard_alignment, line_attention, pharaoh
from seq2seq.training.hardware import autocast, pick_precision

KEYS = {"texts", "beam_size", "nbest", "length_penalty", "alignment", "attention"}


class TranslateEndpoint(Endpoint):
    verb = "translate"

    def __init__(self, translator, limits: Limits):
        self.t, self.limits = translator, limits
        self.max_beam = max(translator.decode.beam_size, 12)

    def options(self, body: dict) -> Hashable:
        known_keys(body, KEYS)
        d = self.t.decode
        beam = number(body, "beam_size", int, d.beam_size, 1, self.max_beam)
        nbest = number(body, "nbest", int, 1, 1, beam)
        penalty = number(body, "length_penalty", float, d.length_penalty, 0.0, 2.0)
        alignment, attention = (self._switch(body, key) for key in ("alignment", "attention"))
        return beam, nbest, penalty, alignment, attention

    def _switch(self, body: dict, key: str) -> bool:
        value = body.get(key, False)
        if not isinstance(value, bool):
            raise BadRequest(f"{key!r} must be true or false")
        if value:
            try:
                self.t.check_attention(repr(key))
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
        return value

    def items(self, body: dict) -> list[str]:
        return texts_of(body, self.limits)

    def run(self, items: list, options: Hashable) -> list:
        beam, nbest, penalty, alignment, attention = options
        decode = self.t.settings(beam, nbest, length_penalty=penalty)
        hyps = self.t.hypotheses(items, decode, attention=alignment or attention)
        return self.answers(items, hyps, alignment, attention)

    def answers(self, items: list[str], hyps: list[list[Hypothesis]], alignment: bool = False,
                attention: bool = False) -> list[list[dict]]:
        """Each text's n-best as JSON: text and score, and if asked its alignment and
        attention."""
        out = []
        for text, found, scored in zip(items, hyps, self.t.texts(hyps)):
            answers = [{"text": t, "score": s} for t, s in scored]
            for answer, h in zip(answers, found) if alignment or attention else ():
                src, tgt, matrix = line_attention(self.t.tokenizer, text, h)
                if alignment:
                    answer["alignment"] = pharaoh(hard_alignment(matrix))
                if attention:
                    answer["attention"] = {"source": src, "target": tgt,
                                           "weights": rounded(matrix)}
            out.append(answers)
        return out

    def joining(self, options: Hashable) -> Optional["JoinedSearch"]:
        """Beam search, which texts join between its steps; greedy (beam 1) and searches
        that keep attention run in batches."""
        beam, nbest, penalty, alignment, attention = options
        if beam == 1 or alignment or attention:
            return None
        return JoinedSearch(self, self.t.settings(beam, nbest, length_penalty=penalty))

    def describe(self) -> dict:
        d = self.t.decode
        return {**super().describe(), "options": {
            "beam_size": {"default": d.beam_size, "max": self.max_beam},
            "nbest": {"default": 1, "max": "beam_size"},
            "length_penalty": {"default": d.length_penalty, "max": 2.0},
            "alignment": {"default": False}, "attention": {"default": False}},
            "attention": self.t.has_attention()}



class JoinedSearch:
    """Beam search that texts join between its steps (search.Beams), in the translator's
    precision: each text answered as `TranslateEndpoint.run` answers it alone."""

    def __init__(self, endpoint: TranslateEndpoint, decode: DecodeConfig):
        self.endpoint, self.decode, self.device = endpoint, decode, endpoint.t.device
        self.precision = pick_precision(decode.precision, self.device, "decode.precision")
        self.beams = Beams(endpoint.t.model, decode.beam_size, decode.length_penalty,
                           decode.nbest)
        self.texts: dict[int, str] = {}  # tag -> text, of those searching
        self.empty: list[int] = []  # tags of empty texts: answered at the next step
        self.added = 0

    @property
    def live(self) -> int:
        return self.beams.live + len(self.empty)

    def add(self, items: list[str]) -> list[int]:
        tags = list(range(self.added, self.added + len(items)))
        self.added += len(items)
        texts = {tag: text for tag, text in zip(tags, items) if text.strip()}
        self.empty += [tag for tag in tags if tag not in texts]
        if texts:
            d = self.decode
            src = Source.of_ids(self.endpoint.t.tokenizer.encode_source(list(texts.values())))
            max_len = max_lengths(src.lens, d.max_len_a, d.max_len_b, d.max_len)
            with autocast(self.device, self.precision):
                self.beams.add(src.to(self.device), max_len, tags=list(texts))
            self.texts.update(texts)
        return tags

    def step(self) -> list[tuple[int, list[dict]]]:
        out = [(tag, []) for tag in self.empty]
        self.empty = []
        if self.beams.live:
            with autocast(self.device, self.precision):
                found = self.beams.step()
            texts = [self.texts.pop(tag) for tag, _ in found]
            out += zip([tag for tag, _ in found],
                       self.endpoint.answers(texts, [hyps for _, hyps in found]))
        return out
