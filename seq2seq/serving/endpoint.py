"""What a task serves: an `Endpoint` turns a request's JSON into items and options, runs a
batch of items (from several requests, the same options) through its predictor, and turns
each item's result into JSON. The server (seq2seq/serving/app.py) names no task: each
task's predictor says which endpoint it has (`serving.endpoint_of`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Hashable, Mapping, Optional


@dataclass(frozen=True)
class Limits:
    """What one request may hold; beyond it, a 4xx naming the limit."""
    max_body_bytes: int = 1 << 20  # the request's body
    max_lines: int = 64  # texts (or images) a request
    max_chars: int = 2000  # characters a text
    max_image_bytes: int = 4 << 20  # an uploaded image's file
    max_image_pixels: int = 4096 * 4096  # its width x height, before decoding
    timeout_s: float = 60.0  # a request's answer, queue included


class BadRequest(ValueError):
    """What a client sent that cannot be answered: one line, a 4xx (`status`)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class Endpoint:
    """The interface; a task's endpoint derives from it."""

    verb: str = ""  # the path under /runs/NAME/: translate, classify, tag, caption
    reads: str = "text"  # text: a JSON body {"texts": [...], options}; image: its bytes
    limits: Limits = Limits()

    def body_limit(self) -> int:
        """The most bytes a request's body may hold."""
        return self.limits.max_body_bytes

    def request(self, raw: bytes, query: Mapping[str, str]) -> tuple[list, Hashable]:
        """A request's body and query -> (items, options). Text endpoints read a JSON
        object; an endpoint that reads something else says so here."""
        if query:
            raise BadRequest(f"unknown query parameter {sorted(query)[0]!r}: options go in "
                             "the JSON body")
        body = json_body(raw)
        return self.items(body), self.options(body)

    def items(self, body: dict) -> list:
        """The request's items (texts), checked against the limits."""
        raise NotImplementedError

    def options(self, body: dict) -> Hashable:
        """The request's options (checked against the run's limits), hashable: requests
        with equal options are searched together."""
        raise NotImplementedError

    def run(self, items: list, options: Hashable) -> list[Any]:
        """One JSON-ready answer per item (called off the event loop, a batch at a time)."""
        raise NotImplementedError

    def describe(self) -> dict:
        """What /runs says of this endpoint: its verb, input and options."""
        return {"verb": self.verb, "reads": self.reads}


def json_body(raw: bytes) -> Any:
    """A request's body as JSON: UTF-8, not empty."""
    if not raw:
        raise BadRequest("the body is empty: send a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the body is not valid UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise BadRequest(f"the body is not JSON: {str(exc)[:80]}") from None


def query_int(query: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    """An optional integer query parameter, within [low, high]."""
    value = query.get(key)
    if value is None:
        return default
    if not value.isdigit():
        raise BadRequest(f"{key!r} must be an integer")
    return number({key: int(value)}, key, int, default, low, high)


def texts_of(body: Any, limits: Limits, key: str = "texts") -> list[str]:
    """The request's texts: a non-empty JSON list of strings, each within the limits."""
    if not isinstance(body, dict):
        raise BadRequest(f"the body must be a JSON object with {key!r}, a list of strings")
    texts = body.get(key)
    if not isinstance(texts, list) or not texts:
        raise BadRequest(f"{key!r} must be a non-empty list of strings")
    if len(texts) > limits.max_lines:
        raise BadRequest(f"{len(texts)} {key} in one request; at most {limits.max_lines}", 413)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise BadRequest(f"{key}[{i}] is not a string")
        if len(text) > limits.max_chars:
            raise BadRequest(f"{key}[{i}] has {len(text)} characters; at most "
                             f"{limits.max_chars}", 413)
        if "\n" in text or "\r" in text:
            raise BadRequest(f"{key}[{i}] holds a line break: one text a list item")
    return texts


def number(body: dict, key: str, kind: type, default, low, high) -> Any:
    """An optional numeric option of the body, within [low, high]."""
    value = body.get(key, default)
    if value is None:
        return default
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise BadRequest(f"{key!r} must be an integer")
    if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise BadRequest(f"{key!r} must be a number")
    if not low <= value <= high:
        raise BadRequest(f"{key!r} must be in [{low}, {high}]")
    return kind(value)


def rounded(matrix) -> list[list[float]]:
    """A (rows, columns) tensor of weights as JSON: 4 decimals, more than a heat map shows."""
    return [[round(w, 4) for w in row] for row in matrix.tolist()]


def known_keys(body: dict, allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}; known: {', '.join(sorted(allowed))}")


def endpoint_of(predictor, limits: Limits) -> Optional[Endpoint]:
    """The endpoint a predictor serves (its `endpoint(limits)`), None if it has none."""
    make = getattr(predictor, "endpoint", None)
    return None if make is None else make(limits)
