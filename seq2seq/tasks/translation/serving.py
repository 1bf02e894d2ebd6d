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

from typing import Hashable

from seq2seq.serving.endpoint import (BadRequest, Endpoint, Limits, known_keys, number, rounded,
                                      texts_of)
from seq2seq.tasks.translation.alignment import hard_alignment, line_attention, pharaoh

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

    def describe(self) -> dict:
        d = self.t.decode
        return {**super().describe(), "options": {
            "beam_size": {"default": d.beam_size, "max": self.max_beam},
            "nbest": {"default": 1, "max": "beam_size"},
            "length_penalty": {"default": d.length_penalty, "max": 2.0},
            "alignment": {"default": False}, "attention": {"default": False}},
            "attention": self.t.has_attention()}

