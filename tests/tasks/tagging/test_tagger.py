"""The tagger's invariants: padding and batching change no result, each spelling read once
equals each read every time, an ensemble of one run twice is that run, save-then-load is
identical, a tagger's encoder starts another; and seq2seq-tag (N lines in, N out; CoNLL-U
and CoNLL written back with only the column changed; a fuzz) and seq2seq-score --task tag."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import run_main, save_run, tagged_sentences, write_conll, write_lines
import seq2seq
from seq2seq.cli.score import main as score_main
from seq2seq.config.compose import load_config
from seq2seq.data.prepare import prepare
from seq2seq.data.tokenizer import Tokenizer
from seq2seq.tasks.tagging.cli import main as tag_main
from seq2seq.tasks.tagging.model import CharLSTM, Vocabularies, WordsAndChars, build_tagger
from seq2seq.tasks.tagging.tagger import Tagger
from seq2seq.tasks.tagging.task import Tagging

SMALL = ["model.emb_dim=8", "model.hidden_dim=12", "model.encoder.hidden_dim=6",
         "model.encoder.char_dim=6", "model.encoder.char_emb_dim=4", "model.layers=1"]


def corpus(root: Path) -> Path:
    for split, seed, n in (("train", 1, 300), ("dev", 2, 60), ("test", 3, 60)):
        write_conll(root / f"{split}.iob2", tagged_sentences(n, seed))
    return root


def config(root: Path, *more: str):
    return load_config(["experiment=uner", f"data.local_dir={root / 'data'}",
                        "data.train_split=train", "data.dev_split=dev", "data.test_split=test",
                        f"data.prepared_dir={root / 'prepared'}", *SMALL, *more])


def random_run(root: Path, name: str, seed: int, *more: str) -> Path:
    """A tagger run with random (sharp) weights, saved as training leaves one."""
    cfg = config(root, *more)
    prepared = prepare(cfg)
    tok = Tokenizer.load(prepared.spm, reverse_source=False)
    torch.manual_seed(seed)
    tags = prepared.labels.read_text().split()
    model = build_tagger(cfg.model, Vocabularies(tok.src_vocab_size, tok.tgt_vocab_size),
                         len(tags))
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-0.5, 0.5)
    return save_run(root / name, tok, cfg, model, tags)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tagger")
    corpus(root / "data")
    return {"a": random_run(root, "a", 0), "b": random_run(root, "b", 1),
            "crf": random_run(root, "crf", 2, "model.decoder.crf=true"), "root": root}


SENTENCES = [s for s, _ in tagged_sentences(12, 9)] + [["Zyxwvutsrqponmlkjihgfedcba", "1"]]


@pytest.mark.parametrize("run", ["a", "crf"])
def test_padding_and_batching_change_no_result(runs, run):
    tagger = seq2seq.load(runs[run], device="cpu")
    assert isinstance(tagger, Tagger)
    together = tagger.probabilities(SENTENCES)
    tags = tagger.tag(SENTENCES)
    tagger.batch_size = 1
    for sentence, probs, t in zip(SENTENCES, together, tags):
        (alone,) = tagger.probabilities([sentence])
        assert torch.allclose(alone, probs, atol=1e-5)
        assert tagger.tag([sentence]) == [t] and len(t) == len(sentence)
        assert torch.allclose(probs.sum(-1), torch.ones(len(sentence)), atol=1e-4)


def test_each_spelling_read_once_equals_each_read_every_time():
    torch.manual_seed(0)
    layer = WordsAndChars(torch.nn.Embedding(10, 3), CharLSTM(12, 4, 6))
    ids = torch.randint(1, 10, (3, 5, 6))
    ids[0, 1] = ids[2, 3]  # a spelling twice
    ids[1, 4:] = 0  # a padding position
    got = layer(ids)
    chars = ids[..., 1:].reshape(15, 5)
    direct = torch.zeros(15, 6)
    real = (chars != 0).any(1)
    direct[real] = torch.cat([layer.chars(chars[i: i + 1]) for i in range(15) if real[i]])
    assert torch.allclose(got[..., 3:], direct.view(3, 5, 6), atol=1e-6)


def test_an_ensemble_of_one_run_twice_is_that_run(runs):
    one = Tagger.from_run(runs["a"], device="cpu")
    two = Tagger.from_run(runs["a"], runs["a"], device="cpu")
    for p, q in zip(one.probabilities(SENTENCES), two.probabilities(SENTENCES)):
        assert torch.allclose(p, q, atol=1e-6)
    assert one.tag(SENTENCES) == two.tag(SENTENCES)
    mixed = Tagger.from_run(runs["a"], runs["b"], device="cpu").probabilities(SENTENCES[:1])[0]
    b = Tagger.from_run(runs["b"], device="cpu").probabilities(SENTENCES[:1])[0]
    assert torch.allclose(mixed, (one.probabilities(SENTENCES[:1])[0] + b) / 2, atol=1e-6)


def test_a_crf_run_decodes_its_viterbi_path(runs):
    tagger = Tagger.from_run(runs["crf"], device="cpu")
    model = tagger.models[0]
    src = tagger.source(SENTENCES[:3])
    scores = model(src).float()
    expected = model.head.crf.viterbi(scores, src.lens)
    assert tagger.tag(SENTENCES[:3]) == [[tagger.tags[t] for t in p] for p in expected]


def test_ensemble_members_must_share_tags(runs, tmp_path):
    other = tmp_path / "other"
    import shutil
    shutil.copytree(runs["b"], other)
    (other / "labels.txt").write_text("A\nB\nC\nD\nE\n")
    with pytest.raises(ValueError, match=f"{other}: its tags .* differ"):
        Tagger.from_run(runs["a"], other, device="cpu")


def test_a_tagger_encoder_starts_another_tagger(runs, tmp_path):
    cfg = config(runs["root"], f"model.init_from={runs['a']}", "model.decoder.crf=true",
                 f"data.prepared_dir={tmp_path}")
    prepared = prepare(cfg)
    tok = Tokenizer.load(prepared.spm, reverse_source=False)
    model = Tagging.from_config(cfg, tok, prepared).build_model(cfg.model, tok)
    start = Tagger.from_run(runs["a"], device="cpu").models[0]
    for name, tensor in start.encoder.state_dict().items():
        assert torch.equal(model.encoder.state_dict()[name], tensor)
    with pytest.raises(ValueError, match="model.init_from: .*: not a tagger's run"):
        from seq2seq.tasks.tagging.task import load_encoder
        bad = tmp_path / "bad"
        import shutil
        shutil.copytree(runs["a"], bad)
        state = torch.load(bad / "checkpoints" / "best.pt", weights_only=False)
        state["config"]["task"] = "translation"
        torch.save(state, bad / "checkpoints" / "best.pt")
        load_encoder(model, str(bad), (False, 24))
    with pytest.raises(ValueError, match="reads words with data.lowercase=True, "
                                         "data.max_word_chars=24; this run with False, 24"):
        load_encoder(model, str(runs["a"]), (False, 24))


# ------------------------------------------------------------------ seq2seq-tag
def tag(argv: list, data: bytes = b"") -> tuple[int, str, str]:
    return run_main(tag_main, [str(a) for a in argv], data)


def test_text_lines_in_tags_out_as_the_api_gives_them(runs, tmp_path):
    lines = [" ".join(s) for s in SENTENCES] + [""]
    status, out, err = tag([runs["a"], "--device", "cpu"], "\n".join(lines).encode() + b"\n")
    assert status == 0, err
    assert out.splitlines() == Tagger.from_run(runs["a"]).predict(lines)
    assert out.splitlines()[-1] == ""  # an empty line: an empty line
    status, out, err = tag([runs["a"], "--probs"], (lines[0] + "\n").encode())
    assert [t.split(":")[0] for t in out.split()] == Tagger.from_run(runs["a"]).predict(
        lines[:1])[0].split()


def test_conllu_and_conll_are_written_back_with_only_the_column_changed(runs, tmp_path):
    conllu = tmp_path / "in.conllu"
    from test_tagging_data import CONLLU
    conllu.write_text(CONLLU)
    status, out, err = tag([runs["a"], "--input", conllu, "--format", "conllu",
                            "--column", "xpos"])
    assert status == 0, err
    before, after = CONLLU.splitlines(), out.splitlines()
    assert len(before) == len(after)
    tagger = Tagger.from_run(runs["a"])
    predicted = tagger.tag([["Do", "n't", "go", "."], ["Hi"]])
    words = [line for line in after if line.split("\t")[0].isdigit()]
    assert [w.split("\t")[4] for w in words] == predicted[0] + predicted[1]
    for b, a in zip(before, after):
        bf, af = b.split("\t"), a.split("\t")
        assert [x for i, x in enumerate(bf) if i != 4 or not bf[0].isdigit()] == \
            [x for i, x in enumerate(af) if i != 4 or not af[0].isdigit()]
    conll = write_conll(tmp_path / "in.iob2", tagged_sentences(5, 4))
    status, out, err = tag([runs["a"], "--input", conll, "--format", "conll",
                            "--token-column", "1", "--tag-column", "2"])
    assert status == 0, err
    got = [line.split("\t") for line in out.splitlines() if line]
    assert [g[2] for g in got] == [t for s in tagger.tag([s for s, _ in tagged_sentences(5, 4)])
                                   for t in s]
    assert [g[:2] for g in got] == [line.split("\t")[:2] for line in
                                    conll.read_text().splitlines() if line]


def test_a_bad_conll_line_is_named_and_nothing_written(runs, tmp_path):
    bad = write_lines(tmp_path / "bad.iob2", ["1\tA\tO", "2\tB"])
    out = tmp_path / "out.txt"
    status, stdout, err = tag([runs["a"], "--input", bad, "--format", "conll", "--output", out])
    assert status == 1 and err.strip() == (f"seq2seq-tag: error: {bad}:2: 2 columns, the "
                                           "first token line has 3")
    assert stdout == "" and not out.exists()


def _lines_of(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    return lines[:-1] if lines[-1] == b"" else lines


LINE = st.one_of(st.text(max_size=40).map(str.encode), st.binary(max_size=30),
                 st.sampled_from([b"", b" ", b"\r", b"\t\x0b\x0c", b"\xe2\x80\xa8", b"\xc2\x85",
                                  b"the Zorro 12 a dog", "na\u00efve \u00fcber".encode() * 50]))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=st.lists(LINE.map(lambda b: b.replace(b"\n", b"")), max_size=8),
       newline_at_end=st.booleans(), probs=st.booleans())
def test_fuzz_tag_n_lines_in_n_lines_out(runs, lines, newline_at_end, probs):
    data = b"\n".join(lines) + (b"\n" if newline_at_end and lines else b"")
    status, out, err = tag([runs["a"], "--device", "cpu"] + ["--probs"] * probs, data)
    got = _lines_of(data)
    bad = next((i for i, raw in enumerate(got, 1) if not _utf8(raw)), None)
    if bad:  # the first bad line is named, nothing is written
        assert status == 1 and out == "", err
        assert err.strip().splitlines() == [err.strip()]
        assert err.startswith(f"seq2seq-tag: error: <stdin>:{bad}: invalid UTF-8")
        return
    assert status == 0 and "Traceback" not in err, err
    assert out.count("\n") == len(got) and (out == "" or out.endswith("\n"))
    for raw, tags in zip(got, out.split("\n")):
        assert len(tags.split()) == len(raw.decode().split())


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


# ------------------------------------------------------------------ seq2seq-score --task tag
def test_score_counts_tokens_and_strict_entities_by_hand(tmp_path):
    """Accuracy and seqeval's strict IOB2 entity scores of a case counted by hand."""
    ref = write_lines(tmp_path / "ref.txt", ["B-PER I-PER O B-LOC", "O B-ORG I-ORG"])
    hyp = write_lines(tmp_path / "hyp.txt", ["B-PER I-PER O B-ORG", "O B-ORG O"])
    status, out, err = run_main(score_main, ["--task", "tag", hyp, ref])
    assert status == 0, err
    lines = out.splitlines()
    # 5 of 7 tokens; entities: gold PER, LOC, ORG(2 tokens); predicted PER, ORG(1), ORG(1)
    # -> right: PER only: P 1/3, R 1/3
    assert lines[0] == "token accuracy = 71.43  (7 tokens)"
    assert lines[1] == ("entity precision = 33.33  recall = 33.33  F1 = 33.33  "
                        "(seqeval IOB2 strict, micro)")
    assert "  PER      P 100.00  R 100.00  F1 100.00  (1 gold)" in lines
    assert "  B-LOC -> B-ORG  1" in lines and "  I-ORG -> O  1" in lines


def test_score_reads_a_conllu_reference_column(tmp_path):
    ref = tmp_path / "ref.conllu"
    from test_tagging_data import CONLLU
    ref.write_text(CONLLU)
    hyp = write_lines(tmp_path / "hyp.txt", ["AUX PART VERB NOUN", "INTJ"])
    status, out, err = run_main(score_main, ["--task", "tag", hyp, ref])
    assert status == 0 and out.splitlines()[0] == "token accuracy = 80.00  (5 tokens)", err
    status, out, err = run_main(score_main, ["--task", "tag", hyp, ref, "--label-column",
                                             "xpos"])
    assert out.splitlines()[0] == "token accuracy = 0.00  (5 tokens)"
    short = write_lines(tmp_path / "short.txt", ["AUX PART VERB", "INTJ"])
    status, out, err = run_main(score_main, ["--task", "tag", short, ref])
    assert status == 1 and f"{short}:1: 3 tags, the reference's sentence 1 has 4" in err
