"""seq2seq-classify and the Classifier API: N texts in, N labels out, in input order; the
probabilities are the saved model's own softmax (an ensemble's mean); bad input is one line
naming the file and line, and nothing is written."""
from __future__ import annotations

import json
import lzma
import random
import re
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import REPO, corpus_lines, run_cli, run_main, write_lines
from seq2seq import Classifier, Translator
from seq2seq.config.compose import config_to_dict, load_config
from seq2seq.data.sources import Source
from seq2seq.models.encoder_decoder import build_model
from seq2seq.tasks.classification.cli import main
from seq2seq.tasks.classification.model import build_classifier
from seq2seq.training import checkpoint
from seq2seq.training.rundir import RunDir

LABELS = ["neg", "neu", "pos"]
TEXTS = corpus_lines("dev", "es", 10)


def save_run(run_dir: Path, tok, cfg, model, labels: list[str] | None) -> Path:
    """A run directory as train.py leaves it, as far as inference reads it."""
    (run_dir / "spm").mkdir(parents=True)
    (run_dir / "spm" / "src.model").write_bytes(tok.src.serialized_model_proto())
    (run_dir / "spm" / "tgt.model").write_bytes(tok.tgt.serialized_model_proto())
    if labels is not None:
        write_lines(RunDir(run_dir).labels, labels)
    with torch.no_grad():  # sharper than the 0.08 init, so texts get different labels
        for p in model.parameters():
            p.uniform_(-0.6, 0.6)
    checkpoint.save({"model": model.state_dict(), "config": config_to_dict(cfg)},
                    RunDir(run_dir).checkpoint("best.pt"))
    return run_dir


def classifier_run(run_dir: Path, tok, labels: list[str], seed: int) -> Path:
    cfg = load_config(["experiment=sentiment", "debug=smoke", "model.encoder.hidden_dim=8",
                       f"trainer.run_dir={run_dir}"])
    torch.manual_seed(seed)
    return save_run(run_dir, tok, cfg, build_classifier(cfg.model, tok.src_vocab_size,
                                                        len(labels)), labels)


@pytest.fixture(scope="module")
def runs(tokenizer, tmp_path_factory) -> dict[str, Path]:
    """Classifier runs built directly (seconds, where training one takes a minute): `a` and
    `b` share labels and vocabulary, `other` has other labels, `other_spm` another
    sentencepiece model; `translation` is a translation run."""
    root = tmp_path_factory.mktemp("classify")
    out = {"a": classifier_run(root / "a", tokenizer, LABELS, seed=1),
           "b": classifier_run(root / "b", tokenizer, LABELS, seed=2),
           "other": classifier_run(root / "other", tokenizer, ["bad", "good"], seed=3)}
    out["other_spm"] = root / "other_spm"
    shutil.copytree(out["a"], out["other_spm"])  # the target model has as many pieces
    shutil.copy(out["a"] / "spm" / "tgt.model", out["other_spm"] / "spm" / "src.model")
    cfg = load_config(["debug=smoke", f"trainer.run_dir={root / 'translation'}"])
    out["translation"] = save_run(root / "translation", tokenizer, cfg, build_model(
        cfg.model, tokenizer.src_vocab_size, tokenizer.tgt_vocab_size), labels=None)
    return out


@pytest.fixture(scope="module")
def expected(runs) -> list[str]:
    return Classifier.from_run(runs["a"], device="cpu").predict(TEXTS)


def classify(argv: list, data: bytes = b"") -> tuple[int, str, str]:
    """seq2seq-classify in this process, `data` on stdin: (status, stdout, stderr)."""
    return run_main(main, argv, data)


def one_error(status: int, err: str, *needles: str) -> None:
    assert status == 1 and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("seq2seq-classify: error: "), err
    for needle in needles:
        assert needle in err, (needle, err)


# ------------------------------------------------------------------ the Python API
def test_probabilities_are_the_saved_model_s_softmax_and_predict_its_argmax(runs):
    c = Classifier.from_run(runs["a"], device="cpu")
    probs = c.probabilities(TEXTS)  # (N, C)
    assert c.labels == LABELS and probs.shape == (len(TEXTS), len(LABELS))
    torch.testing.assert_close(probs.sum(1), torch.ones(len(TEXTS)))
    assert c.predict(TEXTS) == [LABELS[i] for i in probs.argmax(1).tolist()]
    # every text scores differently, so the order tests mean something
    assert len({tuple(row) for row in probs.round(decimals=4).tolist()}) == len(TEXTS)
    model = c.models[0]
    with torch.no_grad():  # one text at a time, no batching, no sorting
        for text, row in zip(TEXTS, probs):
            ids = c.tokenizer.encode_source([text])
            torch.testing.assert_close(row, F.softmax(model(Source.of_ids(ids))[0], -1))


def test_results_come_back_in_input_order(runs):
    c = Classifier.from_run(runs["a"], device="cpu")
    c.batch_size = 3  # several batches, each of similar lengths
    probs = c.probabilities(TEXTS)
    order = list(range(len(TEXTS)))
    random.Random(0).shuffle(order)
    shuffled = c.probabilities([TEXTS[i] for i in order])
    torch.testing.assert_close(shuffled, probs[order])


def test_an_ensemble_averages_its_members(runs):
    a, b = (Classifier.from_run(runs[k], device="cpu").probabilities(TEXTS) for k in "ab")
    best = RunDir(runs["a"]).checkpoint("best.pt")  # a checkpoint file: its run's labels
    twice = Classifier.from_run(runs["a"], best, device="cpu").probabilities(TEXTS)
    torch.testing.assert_close(twice, a)
    both = Classifier.from_run(runs["a"], runs["b"], device="cpu").probabilities(TEXTS)
    torch.testing.assert_close(both, (a + b) / 2)


@pytest.mark.parametrize("odd, message", [("other", "labels (bad, good) differ"),
                                          ("other_spm", "sentencepiece model differs")])
def test_an_ensemble_of_runs_that_differ_names_the_odd_one(runs, odd, message):
    with pytest.raises(ValueError, match=re.escape(f"{runs[odd]}: its {message}")):
        Classifier.from_run(runs["a"], runs[odd], device="cpu")


def test_an_empty_text_is_an_error_naming_its_line(runs):
    c = Classifier.from_run(runs["a"], device="cpu")
    with pytest.raises(ValueError, match=r"^line 3: empty text"):
        c.predict(["uno", "dos", " \t "])
    assert c.predict([]) == [] and c.probabilities([]).shape == (0, 3)


# ------------------------------------------------------------------ the command
def test_stdin_in_a_fresh_process_gives_what_input_gives(runs, expected, tmp_path, capsys):
    rng = random.Random(7)
    noise = ["".join(chr(rng.randrange(32, 0x3000)) for _ in range(rng.randrange(1, 40)))
             for _ in range(5)]
    lines = TEXTS + [t + "\t" + t for t in noise] + [" ".join(TEXTS)]  # tabs, long
    lines = [line for line in lines if line.strip()]
    result = run_cli("seq2seq-classify", runs["a"], "--device", "cpu",
                     stdin="".join(line + "\n" for line in lines), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    main([str(runs["a"]), "--input", str(write_lines(tmp_path / "in.txt", lines))])
    assert capsys.readouterr().out == result.stdout
    got = result.stdout.split("\n")
    assert got[-1] == "" and got[:len(TEXTS)] == expected and len(got) - 1 == len(lines)


def test_output_is_written_whole(runs, expected, tmp_path):
    out = tmp_path / "out.txt"
    status, stdout, err = classify([runs["a"], "--input", write_lines(tmp_path / "in.txt", TEXTS),
                                    "--output", out])
    assert status == 0 and stdout == "" and err == ""
    assert out.read_text().split("\n") == expected + [""]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "out.txt"]  # no temp file


@pytest.mark.parametrize("data, message", [(b"hola\ny luego\nbad \xc3\x28 byte\nfin\n",
                                            ":3: invalid UTF-8"),
                                           (b"hola\ny luego\n\nfin\n", ":3: empty text"),
                                           (b"hola\ny luego\n \r\n\xff\n", ":3: empty text")])
def test_bad_input_names_its_line_and_writes_nothing(runs, tmp_path, data, message):
    src = tmp_path / "in.txt"
    src.write_bytes(data)
    out = tmp_path / "out.txt"
    out.write_text("previous complete output\n")
    status, stdout, err = classify([runs["a"], "--input", src, "--output", out])
    one_error(status, err, f"{src}{message}")
    assert out.read_text() == "previous complete output\n" and stdout == ""
    status, stdout, err = classify([runs["a"]], data)
    one_error(status, err, f"<stdin>{message}")
    assert stdout == ""


def test_probs_gives_each_label_s_probability_in_labels_order(runs, expected, tmp_path):
    status, out, err = classify([runs["a"], "--probs"], "".join(t + "\n" for t in TEXTS).encode())
    assert status == 0, err
    probs = Classifier.from_run(runs["a"], device="cpu").probabilities(TEXTS)
    rows = [line.split("\t") for line in out.splitlines()]
    assert [row[0] for row in rows] == expected
    for row, p in zip(rows, probs.tolist()):
        assert len(row) == 1 + len(LABELS)
        assert all(re.fullmatch(r"[01]\.\d{4}", field) for field in row[1:]), row
        assert row[1:] == [f"{x:.4f}" for x in p]


def test_a_table_gives_one_line_per_row(runs, expected, tmp_path):
    rows = ["text\tlabel"] + [f"{t}\t{random.Random(i).choice(LABELS)}"
                              for i, t in enumerate(TEXTS)]
    table = tmp_path / "test.tsv.xz"
    table.write_bytes(lzma.compress("".join(r + "\n" for r in rows).encode()))
    status, out, err = classify([runs["a"], "--input", table])
    assert status == 0, err
    assert out.splitlines() == expected
    texts_only = tmp_path / "test.jsonl"  # no label column: the label is never read
    texts_only.write_text("".join(json.dumps({"review": t}) + "\n" for t in TEXTS[:3]))
    status, out, err = classify([runs["a"], "--input", texts_only, "--text-column", "review"])
    assert status == 0, err
    assert out.splitlines() == expected[:3]
    status, out, err = classify([runs["a"], "--input", texts_only])
    one_error(status, err, f"{texts_only}:1: no key 'text'")


def test_stream_answers_line_by_line_and_stops_at_an_empty_line(runs, expected):
    data = "".join(t + "\n" for t in TEXTS[:3]) + "\n" + TEXTS[3] + "\n"
    status, out, err = classify([runs["a"], "--stream"], data.encode())
    assert out.splitlines() == expected[:3]
    one_error(status, err, "<stdin>:4: empty text")


def test_a_translation_run_is_not_a_classifier(runs):
    with pytest.raises(ValueError, match="a translation run, not a classification run"):
        Classifier.from_run(runs["translation"])
    status, out, err = classify([runs["a"], runs["translation"]], b"hola\n")
    one_error(status, err, f"{runs['translation']}: a translation run, not a classification run "
                           "(task=translation: seq2seq-translate reads it; seq2seq-classify "
                           "needs task=classification)")
    assert out == ""
    # and the other way round
    with pytest.raises(ValueError, match="a classification run, not a translation run"):
        Translator.from_run(runs["a"])


def test_a_run_without_labels_is_named(runs, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(runs["a"], run_dir)
    RunDir(run_dir).labels.unlink()
    status, _, err = classify([run_dir], b"hola\n")
    one_error(status, err, f"{RunDir(run_dir).labels}: no labels file")


def test_a_batch_size_below_one_is_one_line(runs):
    status, out, err = classify([runs["a"], "--batch-size", "0"], b"hola\n")
    one_error(status, err, "--batch-size: at least 1 (got 0)")
    assert out == ""


# ------------------------------------------------------------------ fuzz
def _lines_of(data: bytes) -> list[bytes]:
    """What a text tool counts as lines: split at b"\\n", a final unterminated line kept."""
    lines = data.split(b"\n")
    return lines[:-1] if lines[-1] == b"" else lines


def _first_bad(lines: list[bytes]) -> tuple[int, str] | None:
    """The line number and error of the first line that is not UTF-8 or holds no text."""
    for number, raw in enumerate(lines, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return number, "invalid UTF-8"
        if not text.strip():
            return number, "empty text"
    return None


TEXT = st.one_of(st.text(min_size=1, max_size=60).filter(str.strip).map(str.encode),
                 st.sampled_from([b"\x00", b"y dijo Dios", b"\xef\xbb\xbfhola", b"a\tb",
                                  b"!?.,;:()" * 20, "palabra \u00f1and\u00fa ".encode() * 200]))
LINE = st.one_of(TEXT, st.binary(max_size=40),
                 st.sampled_from([b"", b" ", b"\r", b"\t\x0b\x0c", b"\xe2\x80\xa8", b"\xc2\x85"]))
LINES = st.one_of(st.lists(TEXT, max_size=8), st.lists(LINE, max_size=8)).map(
    lambda lines: [line.replace(b"\n", b"") for line in lines])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=LINES, newline_at_end=st.booleans(), probs=st.booleans())
def test_fuzz_classify_n_lines_in_n_lines_out(runs, lines, newline_at_end, probs):
    data = b"\n".join(lines) + (b"\n" if newline_at_end and lines else b"")
    status, out, err = classify([runs["a"], "--device", "cpu"] + ["--probs"] * probs, data)
    bad = _first_bad(_lines_of(data))
    if bad:  # the first bad line is named, nothing is written
        one_error(status, err, f"<stdin>:{bad[0]}: {bad[1]}")
        assert out == ""
        return
    assert status == 0 and err == "", err
    assert out.count("\n") == len(_lines_of(data)) and (out == "" or out.endswith("\n"))
    assert all(line.split("\t")[0] in LABELS for line in out.splitlines())


# ------------------------------------------------------------------ a trained run
@pytest.mark.slow
def test_a_trained_classifier_run_classifies_its_test_table(tmp_path):
    """`seq2seq-train experiment=sentiment debug=smoke`, then the bundled test table."""
    run_dir = tmp_path / "run"
    result = run_cli("seq2seq-train", "experiment=sentiment", "debug=smoke",
                     f"trainer.run_dir={run_dir}", f"data.prepared_dir={tmp_path / 'prep'}",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    table = REPO / "data" / "sentiment-movies" / "test.tsv.xz"
    result = run_cli("seq2seq-classify", run_dir, "--input", table, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    labels = RunDir(run_dir).labels.read_text().splitlines()
    rows = sum(1 for _ in lzma.open(table)) - 1  # less the header
    assert len(result.stdout.splitlines()) == rows
    assert set(result.stdout.splitlines()) <= set(labels)
