"""seq2seq-serve's tag endpoint: POST /runs/NAME/tag

    {"texts": ["I saw her duck ."]}
    -> {"results": [{"tokens": ["I", "saw", "her", "duck", "."],
                     "tags": ["PRON", "VERB", "PRON", "NOUN", "PUNCT"]}]}

Texts are split at whitespace, as seq2seq-tag splits its lines; an empty text gets no
tokens and no tags.
"""
from __future__ import annotations

from typing import Hashable

from seq2seq.serving.endpoint import Endpoint, Limits, known_keys, texts_of


class TagEndpoint(Endpoint):
    verb = "tag"

    def __init__(self, tagger, limits: Limits):
        self.tagger, self.limits = tagger, limits

    def options(self, body: dict) -> Hashable:
        known_keys(body, {"texts"})
        return ()

    def items(self, body: dict) -> list[str]:
        return texts_of(body, self.limits)

    def run(self, items: list, options: Hashable) -> list:
        tokens = [text.split() for text in items]
        return [{"tokens": t, "tags": tags} for t, tags in zip(tokens, self.tagger.tag(tokens))]
