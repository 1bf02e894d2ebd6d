"""seq2seq-serve's translate endpoint: POST /runs/NAME/translate

    {"texts": ["Hola.", "En el principio."], "beam_size": 5, "nbest": 2,
     "length_penalty": 0.0, "alignment": false}
    -> {"results": [[{"text": "Hello.", "score": -1.93}, ...], ...]}   # n-best per text

The options default to the run's decode settings and are bounded by them (a beam at most
the run's beam size or 12, whichever is larger); `alignment` (attention models) adds each
hypothesis's Pharaoh links. An empty text gets an empty list.
"""
from __future__ import annotations

from typing import Hashable

from seq2seq.serving.endpoint import BadRequest, Endpoint, Limits, known_keys, number, texts_of
from seq2seq.tasks.translation.alignment import alignment_line

KEYS = {"texts", "beam_size", "nbest", "length_penalty", "alignment"}


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
        alignment = body.get("alignment", False)
        if not isinstance(alignment, bool):
            raise BadRequest("'alignment' must be true or false")
        if alignment:
            try:
                self.t.check_attention("'alignment'")
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
        return beam, nbest, penalty, alignment

    def items(self, body: dict) -> list[str]:
        return texts_of(body, self.limits)

    def run(self, items: list, options: Hashable) -> list:
        beam, nbest, penalty, alignment = options
        decode = self.t.settings(beam, nbest, length_penalty=penalty)
        hyps = self.t.hypotheses(items, decode, attention=alignment)
        out = []
        for text, found, scored in zip(items, hyps, self.t.texts(hyps)):
            answers = [{"text": t, "score": s} for t, s in scored]
            if alignment:
                for answer, h in zip(answers, found):
                    answer["alignment"] = alignment_line(self.t.tokenizer, text, h)
            out.append(answers)
        return out

    def describe(self) -> dict:
        d = self.t.decode
        return {**super().describe(), "options": {
            "beam_size": {"default": d.beam_size, "max": self.max_beam},
            "nbest": {"default": 1, "max": "beam_size"},
            "length_penalty": {"default": d.length_penalty, "max": 2.0},
            "alignment": {"default": False}}}
