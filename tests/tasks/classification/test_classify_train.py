"""task=classification end to end: labelled text in every layout (and a hub dataset, from local
files) -> prepared arrays and labels.txt -> training -> dev accuracy and best.pt; a language
model's layers as the encoder's start (exactly); bad input named in one line."""
from __future__ import annotations

import json
import random
from pathlib import Path

import datasets
import pytest
import torch

from seq2seq import Classifier
from seq2seq.config.compose import ConfigError, load_config
from seq2seq.data.prepare import prepare
from seq2seq.data.tokenizer import Tokenizer
from seq2seq.data.tokens import LabelledArrays
from seq2seq.training.loop import Run, train
from seq2seq.training.rundir import RunDir

WORDS = "the a film plot actors story music scenes ending long short slow quick".split()


def synthetic(n: int, seed: int) -> list[tuple[str, str]]:
    """pos texts hold "good", neg ones "bad", among filler words: learnable to 100%."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        label = rng.choice(["pos", "neg"])
        words = rng.choices(WORDS, k=rng.randint(2, 7))
        words.insert(rng.randint(0, len(words)), "good" if label == "pos" else "bad")
        out.append((" ".join(words), label))
    return out


def write_split(directory: Path, split: str, rows: list[tuple[str, str]], layout: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if layout == "tsv":
        (directory / f"{split}.tsv").write_text(
            "text\tlabel\n" + "".join(f"{t}\t{lab}\n" for t, lab in rows))
    elif layout == "csv":
        (directory / f"{split}.csv").write_text(
            "label,text\n" + "".join(f'{lab},"{t}"\n' for t, lab in rows))
    elif layout == "jsonl":
        (directory / f"{split}.jsonl").write_text(
            "".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in rows))
    else:  # aclImdb folders
        for i, (t, lab) in enumerate(rows):
            (directory / split / lab).mkdir(parents=True, exist_ok=True)
            (directory / split / lab / f"{i}_1.txt").write_text(t + "\n")


def corpus(directory: Path, layout: str = "tsv", sizes=(240, 40, 40)) -> Path:
    for split, n, seed in zip(("train", "dev", "test"), sizes, (1, 2, 3)):
        write_split(directory, split, synthetic(n, seed), layout)
    return directory


def config(data: Path, tmp: Path, *overrides: str):
    return load_config(["experiment=sentiment", f"data.local_dir={data}",
                        f"data.prepared_dir={tmp / 'prepared'}", f"trainer.run_dir={tmp / 'run'}",
                        "tokenizer.src_vocab_size=40", "model.emb_dim=16", "model.hidden_dim=16",
                        "model.encoder.hidden_dim=8", "trainer.tensorboard=false", *overrides])


@pytest.mark.parametrize("layout", ["tsv", "csv", "jsonl", "folders"])
def test_every_layout_prepares_the_same_texts_and_labels(tmp_path, layout):
    data = corpus(tmp_path / "data", layout)
    prepared = prepare(config(data, tmp_path))
    assert prepared.labels.read_text() == "neg\npos\n"
    pairs = sorted(zip(prepared.dev_src.read_text().splitlines(),
                       prepared.dev_ref.read_text().splitlines()))
    assert pairs == sorted(synthetic(40, 2))
    dev = LabelledArrays(prepared.dev)
    assert len(dev) == 40
    # the arrays hold the dev texts' label ids in dev.ref's order
    assert [["neg", "pos"][i] for i in dev.labels.tolist()] == \
        prepared.dev_ref.read_text().splitlines()


def test_a_hub_dataset_with_class_labels_is_read_by_its_columns(tmp_path):
    """The hub path (`datasets.load_dataset`), on a local folder: glue/sst2's shape."""
    hub = tmp_path / "sst2"
    hub.mkdir()
    features = datasets.Features({"idx": datasets.Value("int32"),
                                  "sentence": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["negative", "positive"])})
    for split, n, seed in (("train", 60, 1), ("validation", 20, 2), ("test", 20, 3)):
        rows = synthetic(n, seed)
        datasets.Dataset.from_dict(
            {"idx": list(range(n)), "sentence": [t for t, _ in rows],
             "label": [int(lab == "pos") for _, lab in rows]},
            features=features).to_parquet(str(hub / f"{split}.parquet"))
    cfg = load_config(["experiment=sentiment", "data.local_dir=null", f"data.hub_path={hub}",
                       "data.text_column=sentence", "data.dev_split=validation",
                       f"data.prepared_dir={tmp_path / 'prepared'}",
                       "tokenizer.src_vocab_size=40"])
    prepared = prepare(cfg)
    assert prepared.labels.read_text() == "negative\npositive\n"
    expected = synthetic(20, 2)
    assert prepared.dev_src.read_text().splitlines() == [t for t, _ in expected]
    assert prepared.dev_ref.read_text().splitlines() == \
        [{"pos": "positive", "neg": "negative"}[lab] for _, lab in expected]


def test_numeric_labels_sort_by_value_and_round_trip_to_the_run(tmp_path):
    data = tmp_path / "data"
    for split, seed in (("train", 1), ("dev", 2), ("test", 3)):
        rows = [(t, str([2, 10, 1][i % 3])) for i, (t, _) in enumerate(synthetic(30, seed))]
        write_split(data, split, rows, "tsv")
    cfg = config(data, tmp_path, "trainer.max_steps=2")
    train(cfg)
    run = RunDir(cfg.trainer.run_dir)
    assert run.labels.read_text() == "1\n2\n10\n"
    predictions = (run.translations / "dev.hyp").read_text().splitlines()
    assert len(predictions) == 30 and set(predictions) <= {"1", "2", "10"}


@pytest.mark.parametrize("bad, where", [
    ("dev_label", "dev.tsv:4: label 'maybe' is not one of the training labels (neg, pos)"),
    ("empty_text", "train.tsv:3: empty text in 'text'"),
    ("no_column", "train.tsv:1: no column 'text' (columns: review, label)"),
])
def test_bad_labelled_input_is_one_line_naming_file_and_line(tmp_path, bad, where):
    data = corpus(tmp_path / "data")
    if bad == "dev_label":
        lines = (data / "dev.tsv").read_text().splitlines()
        lines[3] = lines[3].rsplit("\t", 1)[0] + "\tmaybe"
        (data / "dev.tsv").write_text("\n".join(lines) + "\n")
    elif bad == "empty_text":
        lines = (data / "train.tsv").read_text().splitlines()
        lines[2] = " \tpos"
        (data / "train.tsv").write_text("\n".join(lines) + "\n")
    else:
        text = (data / "train.tsv").read_text()
        (data / "train.tsv").write_text("review" + text[len("text"):])
    with pytest.raises(ValueError) as err:
        prepare(config(data, tmp_path))
    assert str(err.value).endswith(where) and "\n" not in str(err.value)
    assert not list((tmp_path / "prepared").glob("*/prepare.json"))  # nothing half-prepared


def test_the_pipeline_learns_a_synthetic_task_and_keeps_the_best_on_accuracy(tmp_path):
    data = corpus(tmp_path / "data", sizes=(400, 100, 40))
    cfg = config(data, tmp_path, "optim.lr=0.01", "trainer.max_steps=120",
                 "trainer.eval_every=40", "trainer.max_sentences=16", "model.dropout=0.0")
    train(cfg)
    run = RunDir(cfg.trainer.run_dir)
    evals = [json.loads(line) for line in run.metrics.read_text().splitlines()
             if "dev_accuracy" in line]
    assert sorted({e["step"] for e in evals}) == [40, 80, 120]  # (and once more at the end)
    assert max(e["dev_accuracy"] for e in evals) >= 98.0
    assert len(evals[-1]["dev_confusion"]) == 2
    best = torch.load(run.checkpoint("best.pt"), weights_only=False)
    assert best["best"] == max(e["dev_accuracy"] for e in evals)


# ---------------------------------------------------------------- ULMFiT's start
@pytest.fixture
def lm_run(tiny_corpus, tmp_path) -> Path:
    """A language model of the tiny Bible corpus's English side, trained 2 steps."""
    cfg = load_config(["task=language_model", "data=bible_en", "model/encoder=none",
                       f"data.local_dir={tiny_corpus}", f"data.prepared_dir={tmp_path / 'lp'}",
                       "tokenizer.tgt_vocab_size=120", "trainer.max_steps=2",
                       "model.emb_dim=16", "model.hidden_dim=16", "model.layers=2",
                       f"trainer.run_dir={tmp_path / 'lm'}", "trainer.tensorboard=false"])
    train(cfg)
    return Path(cfg.trainer.run_dir)


def test_a_language_models_layers_start_the_encoder_exactly(tmp_path, lm_run):
    data = corpus(tmp_path / "data")
    cfg = config(data, tmp_path, "model/encoder=rnn", "model.encoder.hidden_dim=null",
                 "model.layers=2", f"model.init_from={lm_run}")
    run = Run(cfg)
    lm = torch.load(lm_run / "checkpoints" / "best.pt", weights_only=False)["model"]
    encoder = run.model.encoder.state_dict()
    copied = [name for name in lm if name.startswith(("decoder.embed.", "decoder.rnn."))]
    assert len(copied) == 1 + 4 * 2  # the embedding, and 4 tensors a layer
    for name in copied:
        assert torch.equal(encoder[name.replace("decoder.", "", 1)], lm[name]), name
    # the run reads the language model's pieces
    assert (RunDir(cfg.trainer.run_dir).spm / "src.model").read_bytes() == \
        (lm_run / "spm" / "tgt.model").read_bytes()


def test_init_from_refuses_what_does_not_fit_in_one_line(tmp_path, lm_run, smoke_run):
    data = corpus(tmp_path / "data")
    one_way = ("model/encoder=rnn", "model.encoder.hidden_dim=null", "model.layers=2")
    with pytest.raises(ValueError, match=r"model.init_from: .*not a language model's run"):
        Run(config(data, tmp_path, *one_way, f"model.init_from={smoke_run['run_dir']}"))
    with pytest.raises(ValueError, match=r"'decoder.embed.weight' is \(120, 16\), this "
                                         r"encoder's 'embed.weight' is \(120, 32\)"):
        Run(config(data, tmp_path / "wide", *one_way, "model.emb_dim=32",
                   f"model.init_from={lm_run}", f"data.prepared_dir={tmp_path / 'p2'}"))
    with pytest.raises(ConfigError, match="model.init_from.*one-way encoder"):
        config(data, tmp_path, f"model.init_from={lm_run}")  # the experiment's birnn
    with pytest.raises(FileNotFoundError, match=r"model.init_from: .*nowhere/spm/tgt.model"):
        prepare(config(data, tmp_path, *one_way, f"model.init_from={tmp_path / 'nowhere'}"))


def test_dev_predictions_are_the_models_own_in_dev_order(tmp_path):
    """dev.hyp line i is what the saved model says of dev text i (dev.ref line i's)."""
    data = corpus(tmp_path / "data", sizes=(200, 60, 20))
    cfg = config(data, tmp_path, "trainer.max_steps=40", "optim.lr=0.01", "model.dropout=0.0",
                 "trainer.max_sentences=16")
    train(cfg)
    run = RunDir(cfg.trainer.run_dir)
    texts = (Path(prepare(cfg).root) / "dev.src").read_text().splitlines()
    hyp = (run.translations / "dev.hyp").read_text().splitlines()
    assert hyp == Classifier.from_run(run.checkpoint("last.pt"), device="cpu").predict(texts)
    assert len(set(hyp)) == 2  # both labels predicted: the order is tested, not a constant


def test_long_training_texts_keep_their_first_pieces_and_dev_stays_whole(tmp_path):
    data = corpus(tmp_path / "data")
    prepared = prepare(config(data, tmp_path, "data.max_len=3",
                              "tokenizer.model_type=word"))
    train_arrays, dev = LabelledArrays(prepared.train), LabelledArrays(prepared.dev)
    assert len(train_arrays) == 240 and int(train_arrays.src.lens.max()) == 3 + 1  # + eos
    assert int(dev.src.lens.max()) > 4
    first = synthetic(240, 1)[0][0].split()[:3]
    tok = Tokenizer.load(prepared.spm, reverse_source=False)
    side = train_arrays.src
    ids = side.ids[side.offsets[0]: side.offsets[1]].tolist()
    assert tok.src.decode(ids[:-1]) == " ".join(first)


def test_a_training_slice_is_drawn_at_random_not_the_first_label(tmp_path):
    data = tmp_path / "data"
    rows = sorted(synthetic(200, 1), key=lambda r: r[1])  # all neg, then all pos (folders)
    write_split(data, "train", rows, "folders")
    for split, seed in (("dev", 2), ("test", 3)):
        write_split(data, split, synthetic(20, seed), "folders")
    prepared = prepare(config(data, tmp_path, "data.max_train_sentences=50"))
    labels = LabelledArrays(prepared.train).labels
    assert len(labels) == 50 and 0 < int(labels.sum()) < 50


@pytest.mark.parametrize("bad, message", [
    ("empty_dev", "dev.jsonl: no examples"),
    ("jsonl_bool_label", "train.jsonl:2: 'label' is true: a label is a string or an integer"),
    ("jsonl_null_text", "train.jsonl:2: 'text' is null, not a string"),
])
def test_more_bad_input_in_one_line(tmp_path, bad, message):
    data = corpus(tmp_path / "data", "jsonl")
    if bad == "empty_dev":
        (data / "dev.jsonl").write_text("")
    else:
        lines = (data / "train.jsonl").read_text().splitlines()
        record = json.loads(lines[1])
        record["label" if bad == "jsonl_bool_label" else "text"] = (
            True if bad == "jsonl_bool_label" else None)
        lines[1] = json.dumps(record)
        (data / "train.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError) as err:
        prepare(config(data, tmp_path))
    assert str(err.value).endswith(message) and "\n" not in str(err.value)


def test_a_jsonl_text_across_lines_stays_one_line_of_dev_src(tmp_path):
    data = corpus(tmp_path / "data", "jsonl")
    rows = synthetic(40, 2)
    rows[5] = ("a good\nfilm,\tsaid\r\nthe critic", "pos")
    write_split(data, "dev", rows, "jsonl")
    prepared = prepare(config(data, tmp_path))
    src = prepared.dev_src.read_text().splitlines()
    assert len(src) == 40 and src[5] == "a good film, said the critic"


def test_hidden_hub_labels_are_named(tmp_path):
    hub = tmp_path / "hub"
    hub.mkdir()
    features = datasets.Features({"text": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["neg", "pos"])})
    for split, n in (("train", 30), ("validation", 10), ("test", 10)):
        rows = synthetic(n, 1)
        labels = [-1] * n if split == "test" else [int(lab == "pos") for _, lab in rows]
        datasets.Dataset.from_dict({"text": [t for t, _ in rows], "label": labels},
                                   features=features).to_parquet(str(hub / f"{split}.parquet"))
    cfg = load_config(["experiment=sentiment", "data.local_dir=null", f"data.hub_path={hub}",
                       "data.dev_split=validation", f"data.prepared_dir={tmp_path / 'p'}"])
    with pytest.raises(ValueError, match=r"\[test\] row 0: no label \(-1: this split's labels "
                                         r"are hidden"):
        prepare(cfg)


def test_a_run_refuses_data_whose_labels_changed(tmp_path):
    data = corpus(tmp_path / "data")
    train(config(data, tmp_path, "trainer.max_steps=2"))
    for split in ("train", "dev", "test"):  # a third label appears
        path = data / f"{split}.tsv"
        path.write_text(path.read_text() + "a so-so film\tmeh\n")
    with pytest.raises(ValueError, match=r"labels.txt: the run's labels differ from"):
        train(config(data, tmp_path, "trainer.max_steps=4"))
