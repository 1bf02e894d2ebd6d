"""seq2seq-serve's caption endpoint: POST /runs/NAME/caption?beam_size=5&nbest=2 with an
image file's bytes as the body (any format Pillow reads; Content-Type image/*)

    curl -s localhost:8000/runs/emoji/caption --data-binary @apple.png
    -> {"results": [[{"text": "red apple", "score": -0.21}]]}

`attention=true` (an attention model over an image grid) adds each caption's words and
the attention each was chosen with, {"words": [...], "grid": [h, w], "weights": [[h*w
cells, row by row] per word]} (Show, Attend and Tell's panels).

The image is read as seq2seq-caption reads a file (resized to the run's size); one of more
than --max-image-bytes bytes or --max-image-pixels pixels is refused before it is
decoded, and a file that is no image is a 400 naming it.
"""
from __future__ import annotations

from typing import Hashable, Mapping

from seq2seq.serving.endpoint import (BadRequest, Endpoint, Limits, known_keys, query_int,
                                      rounded)
from seq2seq.tasks.captioning.images import ImageTooLarge, image_from_bytes


class CaptionEndpoint(Endpoint):
    verb = "caption"
    reads = "image"

    def __init__(self, captioner, limits: Limits):
        self.c, self.limits = captioner, limits
        self.max_beam = max(captioner.decode.beam_size, 12)

    def body_limit(self) -> int:
        return self.limits.max_image_bytes

    def request(self, raw: bytes, query: Mapping[str, str]) -> tuple[list, Hashable]:
        known_keys(dict(query), {"beam_size", "nbest", "attention"})
        beam = query_int(query, "beam_size", self.c.decode.beam_size, 1, self.max_beam)
        nbest = query_int(query, "nbest", 1, 1, beam)
        attention = query.get("attention", "false")
        if attention not in ("true", "false"):
            raise BadRequest("'attention' must be true or false")
        if attention == "true" and not self.c.has_attention():
            raise BadRequest("'attention' needs an attention model over an image grid "
                             "(model/decoder=attention, model/encoder=image)")
        if not raw:
            raise BadRequest("the body is empty: send an image file's bytes")
        shape = self.c.image
        try:
            image = image_from_bytes(raw, "the uploaded image", shape.height, shape.width,
                                     shape.channels, self.limits.max_image_pixels)
        except ValueError as exc:  # ImageTooLarge: refused before decoding
            raise BadRequest(str(exc), 413 if isinstance(exc, ImageTooLarge) else 400) from None
        return [image[None]], (beam, nbest, attention == "true")  # one frame: (1, C, H, W)

    def run(self, items: list, options: Hashable) -> list:
        beam, nbest, attention = options
        hyps = self.c.image_hypotheses(items, self.c.settings(beam, nbest), attention)
        out = []
        for found, scored in zip(hyps, self.c.texts(hyps)):
            answers = [{"text": t, "score": s} for t, s in scored]
            for answer, h in zip(answers, found) if attention else ():
                words, maps = self.c.word_maps(h)
                answer["attention"] = {"words": words, "grid": list(maps.shape[1:]),
                                       "weights": rounded(maps.flatten(1))}
            out.append(answers)
        return out

    def describe(self) -> dict:
        return {**super().describe(), "options": {
            "beam_size": {"default": self.c.decode.beam_size, "max": self.max_beam},
            "nbest": {"default": 1, "max": "beam_size"}, "attention": {"default": False}},
            "attention": self.c.has_attention()}
