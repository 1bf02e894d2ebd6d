"""seq2seq-serve: the endpoints answer what the predictors answer; a request's answer does
not depend on what it was batched with; whatever a client sends is a 4xx of one line or
an answer, never a 5xx (fuzzed), and the server answers after every case."""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from hypothesis import HealthCheck, given, settings, strategies as st

import seq2seq
from seq2seq.cli.serve import build, names, parse_args
from seq2seq.serving.endpoint import Limits

from conftest import corpus_lines


@pytest.fixture(scope="module")
def served(task_runs):
    args = parse_args([str(task_runs["translation"]), str(task_runs["classification"]),
                       str(task_runs["tagging"]), str(task_runs["captioning"]),
                       "--name", "tr", "--name", "cls", "--name", "pos", "--name", "cap",
                       "--max-lines", "16", "--max-chars", "300", "--max-body-bytes", "20000",
                       "--max-image-bytes", "30000", "--max-image-pixels", "40000",
                       "--device", "cpu"])
    with TestClient(build(args)) as client:
        yield {"client": client, "runs": task_runs,
               **{name: seq2seq.load(task_runs[task], device="cpu") for name, task in (
                   ("translator", "translation"), ("classifier", "classification"),
                   ("tagger", "tagging"), ("captioner", "captioning"))}}


def png(tmp_path, size=(20, 20), noise=True) -> bytes:
    path = tmp_path / f"image-{size[0]}x{size[1]}.png"
    pixels = (np.random.default_rng(0).integers(0, 256, (size[1], size[0]), dtype=np.uint8)
              if noise else np.full((size[1], size[0]), 128, dtype=np.uint8))
    Image.fromarray(pixels).save(path)
    return path.read_bytes()


def test_health_and_runs(served):
    c = served["client"]
    health = c.get("/health").json()
    assert health["status"] == "ok" and health["runs"] == ["cap", "cls", "pos", "tr"]
    assert set(health["searched"]) == set(health["runs"])
    runs = c.get("/runs").json()
    assert runs["tr"]["task"] == "translation" and runs["tr"]["verb"] == "translate"
    assert runs["cls"]["verb"] == "classify" and runs["pos"]["verb"] == "tag"
    assert runs["cap"]["verb"] == "caption" and runs["cap"]["reads"] == "image"
    paths = c.get("/openapi.json").json()["paths"]
    body = paths["/runs/tr/translate"]["post"]["requestBody"]["content"]["application/json"]
    schema = body["schema"]  # each option typed and bounded, from the endpoint
    assert schema["required"] == ["texts"] and schema["properties"]["texts"]["maxItems"] == 16
    assert schema["properties"]["beam_size"]["type"] == "integer"
    assert schema["properties"]["beam_size"]["maximum"] == runs["tr"]["options"]["beam_size"]["max"]
    assert schema["properties"]["alignment"] == {"type": "boolean", "default": False}
    caption = paths["/runs/cap/caption"]["post"]
    assert {p["name"] for p in caption["parameters"]} == {"beam_size", "nbest", "attention"}
    assert "image/*" in caption["requestBody"]["content"]


def test_translate_answers_what_the_translator_does(served):
    texts = corpus_lines("dev", "es", 3) + [""]
    r = served["client"].post("/runs/tr/translate", json={"texts": texts, "beam_size": 3,
                                                          "nbest": 2})
    assert r.status_code == 200, r.text
    want = served["translator"].translate_nbest(texts, beam=3, nbest=2)
    got = r.json()["results"]
    assert [[a["text"] for a in line] for line in got] == [[t for t, _ in w] for w in want]
    assert [a["score"] for line in got for a in line] == pytest.approx(
        [s for w in want for _, s in w], abs=1e-5)
    assert got[-1] == []  # an empty text


def test_classify_answers_what_the_classifier_does(served):
    texts = ["A gorgeous, witty film.", "Dull."]
    r = served["client"].post("/runs/cls/classify", json={"texts": texts})
    assert r.status_code == 200, r.text
    got = r.json()["results"]
    assert [g["label"] for g in got] == served["classifier"].predict(texts)
    assert sum(got[0]["probabilities"].values()) == pytest.approx(1.0)


def test_tag_answers_what_the_tagger_does(served):
    texts = ["I saw her duck .", "", "Dogs bark"]
    r = served["client"].post("/runs/pos/tag", json={"texts": texts})
    assert r.status_code == 200, r.text
    got = r.json()["results"]
    assert [g["tokens"] for g in got] == [t.split() for t in texts]
    assert [" ".join(g["tags"]) for g in got] == served["tagger"].predict(texts)


def test_caption_answers_what_the_captioner_does(served, tmp_path):
    data = png(tmp_path)
    (tmp_path / "same.png").write_bytes(data)
    r = served["client"].post("/runs/cap/caption?beam_size=3&nbest=2", content=data,
                              headers={"content-type": "image/png"})
    assert r.status_code == 200, r.text
    want = served["captioner"].caption_nbest([str(tmp_path / "same.png")], beam=3, nbest=2)
    got = r.json()["results"][0]
    assert [g["text"] for g in got] == [t for t, _ in want[0]]
    assert [g["score"] for g in got] == pytest.approx([s for _, s in want[0]], abs=1e-5)
    assert "attention" not in got[0]


def test_caption_attention_is_each_words_weights_over_the_grid(served, tmp_path):
    data = png(tmp_path)
    (tmp_path / "same.png").write_bytes(data)
    r = served["client"].post("/runs/cap/caption?beam_size=3&nbest=2&attention=true",
                              content=data, headers={"content-type": "image/png"})
    assert r.status_code == 200, r.text
    c = served["captioner"]
    hyps = c.hypotheses([str(tmp_path / "same.png")], c.settings(3, 2), attention=True)
    for answer, h in zip(r.json()["results"][0], hyps[0]):
        words, maps = c.word_maps(h)
        att = answer["attention"]
        assert att["words"] == words and att["grid"] == list(maps.shape[1:])
        assert np.asarray(att["weights"]) == pytest.approx(maps.flatten(1).numpy(), abs=1e-4)


@pytest.mark.parametrize("query,body,status,why", [
    ("", b"", 400, "the body is empty: send an image"),
    ("", b"GIF89a not really", 400, "the uploaded image: not a readable image"),
    ("", "big", 413, "the uploaded image: 300 x 200 pixels; at most 40000"),
    ("", b"x" * 30001, 413, "at most 30000"),
    ("?beam_size=99", "ok", 400, "'beam_size' must be in"),
    ("?beam_size=two", "ok", 400, "'beam_size' must be an integer"),
    ("?beam_size=2&nbest=3", "ok", 400, "'nbest' must be in [1, 2]"),
    ("?size=3", "ok", 400, "unknown field 'size'"),
    ("?attention=yes", "ok", 400, "'attention' must be true or false"),
])
def test_bad_images_are_one_line_4xx(served, tmp_path, query, body, status, why):
    if body == "ok":
        body = png(tmp_path)
    elif body == "big":
        body = png(tmp_path, (300, 200), noise=False)  # a few bytes, too many pixels
    r = served["client"].post(f"/runs/cap/caption{query}", content=body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert why in error and "\n" not in error, error


def test_an_answer_does_not_depend_on_its_batch(served):
    """The same text alone, then among 24 concurrent requests of other texts: identical."""
    c, texts = served["client"], corpus_lines("dev", "es", 24)
    alone = c.post("/runs/tr/translate", json={"texts": [texts[0]]}).json()["results"][0]
    answers: dict[int, list] = {}

    def ask(i: int) -> None:
        answers[i] = c.post("/runs/tr/translate", json={"texts": [texts[i]]}).json()
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    crowded = answers[0]["results"][0]
    assert [a["text"] for a in crowded] == [a["text"] for a in alone]
    assert crowded[0]["score"] == pytest.approx(alone[0]["score"], abs=1e-4)
    assert all("results" in a for a in answers.values())


BAD = [
    (b"", 400, "the body is empty"),
    (b"\xff\xfe{", 400, "not valid UTF-8"),
    (b"{not json", 400, "not JSON"),
    (b"[1, 2]", 400, "JSON object"),
    (json.dumps({"text": ["a"]}).encode(), 400, "'texts' must be a non-empty list"),
    (json.dumps({"texts": []}).encode(), 400, "non-empty list"),
    (json.dumps({"texts": [3]}).encode(), 400, "texts[0] is not a string"),
    (json.dumps({"texts": ["a"] * 17}).encode(), 413, "17 texts in one request; at most 16"),
    (json.dumps({"texts": ["a" * 301]}).encode(), 413, "301 characters; at most 300"),
    (json.dumps({"texts": ["a\nb"]}).encode(), 400, "line break"),
    (json.dumps({"texts": ["a"], "beam": 3}).encode(), 400, "unknown field 'beam'"),
    (json.dumps({"texts": ["a"], "beam_size": 99}).encode(), 400, "'beam_size' must be in"),
    (json.dumps({"texts": ["a"], "beam_size": True}).encode(), 400, "must be an integer"),
    (json.dumps({"texts": ["a"], "beam_size": 2, "nbest": 3}).encode(), 400, "'nbest'"),
    (json.dumps({"texts": ["a"], "alignment": True}).encode(), 400, "needs a model with attention"),
    (json.dumps({"texts": ["a"], "attention": True}).encode(), 400, "needs a model with attention"),
    (json.dumps({"texts": ["a"], "attention": 1}).encode(), 400, "'attention' must be true or"),
    (json.dumps({"texts": ["x" * 50] * 16, "pad": "y" * 20000}).encode(), 413, "the body"),
]


def test_text_endpoints_take_no_query_parameters(served):
    r = served["client"].post("/runs/tr/translate?beam_size=2", json={"texts": ["a"]})
    assert r.status_code == 400 and "options go in the JSON body" in r.json()["error"]


@pytest.mark.parametrize("body,status,why", BAD, ids=[w for _, _, w in BAD])
def test_bad_requests_are_one_line_4xx(served, body, status, why):
    r = served["client"].post("/runs/tr/translate", content=body,
                              headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert why in error and "\n" not in error, error


def test_unknown_paths_and_methods_name_the_endpoints(served):
    c = served["client"]
    for r in (c.post("/runs/nope/translate", json={"texts": ["a"]}), c.get("/runs/tr/translate"),
              c.post("/runs/tr/classify", json={"texts": ["a"]})):
        assert r.status_code in (404, 405)
        error = r.json()["error"]
        assert error.endswith("POST /runs/tr/translate, /runs/cls/classify, /runs/pos/tag, "
                              "/runs/cap/caption"), error
    r = c.post("/runs/cls/classify", json={"texts": ["  "]})
    assert r.status_code == 400 and "texts[0] is empty" in r.json()["error"]


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(max_size=40),
                    lambda inner: st.lists(inner, max_size=5)
                    | st.dictionaries(st.text(max_size=12), inner, max_size=5), max_leaves=20)
BODIES = (st.binary(max_size=200)
          | JSON.map(lambda v: json.dumps(v).encode())
          | st.fixed_dictionaries({"texts": st.lists(st.text(max_size=60), max_size=5)},
                                  optional={"beam_size": JSON, "nbest": JSON,
                                            "length_penalty": JSON, "alignment": JSON,
                                            "attention": JSON}
                                  ).map(lambda v: json.dumps(v).encode()))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(body=BODIES, path=st.sampled_from(["/runs/tr/translate", "/runs/cls/classify",
                                          "/runs/pos/tag", "/runs/cap/caption"]))
def test_fuzz_nothing_a_client_sends_is_a_5xx(served, body, path):
    c = served["client"]
    r = c.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code < 500, (body, r.text)
    assert ("results" in r.json()) == (r.status_code == 200)
    assert c.get("/health").status_code == 200


def test_run_names_are_checked():
    from pathlib import Path
    assert names([Path("runs/demo"), Path("x/sentiment")], []) == ["demo", "sentiment"]
    with pytest.raises(ValueError, match="two runs named 'demo'"):
        names([Path("a/demo"), Path("b/demo")], [])
    with pytest.raises(ValueError, match="letters, digits"):
        names([Path("a")], ["no/slash"])
    assert Limits().max_lines == 64
