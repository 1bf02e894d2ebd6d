"""seq2seq-serve's classify endpoint: POST /runs/NAME/classify

    {"texts": ["A gorgeous, witty film."]}
    -> {"results": [{"label": "pos", "probabilities": {"neg": 0.02, "pos": 0.98}}]}
"""
from __future__ import annotations

from typing import Hashable

from seq2seq.serving.endpoint import BadRequest, Endpoint, Limits, known_keys, texts_of


class ClassifyEndpoint(Endpoint):
    verb = "classify"

    def __init__(self, classifier, limits: Limits):
        self.c, self.limits = classifier, limits

    def options(self, body: dict) -> Hashable:
        known_keys(body, {"texts"})
        return ()

    def items(self, body: dict) -> list[str]:
        texts = texts_of(body, self.limits)
        for i, text in enumerate(texts):
            if not text.strip():
                raise BadRequest(f"texts[{i}] is empty: there is nothing to classify")
        return texts

    def run(self, items: list, options: Hashable) -> list:
        probs = self.c.probabilities(items)  # (N, C)
        return [{"label": self.c.labels[int(row.argmax())],
                 "probabilities": dict(zip(self.c.labels, row.tolist()))} for row in probs]
