"""BLEU, chrF and TER always with their sacrebleu signature; the seq2seq-score CLI."""
from __future__ import annotations

import pytest
import sacrebleu

from seq2seq.cli import score as score_mod
from seq2seq.evaluation.metrics import bleu, chrf, ter

from conftest import corpus_lines, run_cli, write_lines


@pytest.fixture(scope="module")
def refs():
    return corpus_lines("test", "en", 30), corpus_lines("test", "en-kjv", 30)


def test_bleu_of_a_text_against_itself_is_100(refs):
    web, _ = refs
    s = bleu(web, [web])
    assert s.name == "BLEU" and s.score == pytest.approx(100.0)
    assert "nrefs:1" in s.signature and f"version:{sacrebleu.__version__}" in s.signature
    assert str(s).startswith("BLEU = 100.00") and s.signature in str(s)


def test_two_references_are_counted_and_used(refs):
    web, kjv = refs
    s = bleu(kjv, [web, kjv])  # the hypothesis is the second reference
    assert "nrefs:2" in s.signature and s.score == pytest.approx(100.0)
    assert bleu(kjv, [web]).score < 60  # two real, different translations


def test_bleu_matches_sacrebleu_directly(refs):
    web, kjv = refs
    assert bleu(web, [kjv]).score == pytest.approx(sacrebleu.corpus_bleu(web, [kjv]).score)
    assert chrf(web, [kjv]).score == pytest.approx(sacrebleu.corpus_chrf(web, [kjv]).score)
    assert ter(web, [kjv]).score == pytest.approx(sacrebleu.corpus_ter(web, [kjv]).score)


def test_ter_counts_edits_per_reference_word():
    # one substitution in four reference words: 25; a shifted block is one edit, not two
    assert ter(["the cat sat down"], [["the dog sat down"]]).score == pytest.approx(25.0)
    s = ter(["down sat the cat"], [["the cat sat down"]])
    assert s.name == "TER" and 0 < s.score < 100 and "tok:tercom" in s.signature
    assert ter(["a b c"], [["a b c"]]).score == 0.0


def test_chrf_of_a_text_against_itself_is_100(refs):
    web, _ = refs
    s = chrf(web, [web])
    assert s.name == "chrF" and s.score == pytest.approx(100.0)
    assert "nrefs:1" in s.signature and "version:" in s.signature


@pytest.mark.parametrize("metric", [bleu, chrf, ter])
def test_mismatched_line_counts_are_an_error(refs, metric):
    web, _ = refs
    with pytest.raises(ValueError, match="29"):
        metric(web, [web[:-1]])


def test_score_cli_prints_every_score_with_its_signature(refs, tmp_path):
    web, kjv = refs
    hyp = write_lines(tmp_path / "hyp", kjv)
    ref1, ref2 = write_lines(tmp_path / "ref1", web), write_lines(tmp_path / "ref2", kjv)
    result = run_cli("seq2seq-score", hyp, ref1, ref2, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("BLEU = 100.00") and lines[1].startswith("chrF = 100.00")
    assert lines[2].startswith("TER = 0.00")
    assert all("nrefs:2" in line and "version:" in line for line in lines)


def test_score_cli_one_reference_prints_the_library_score(refs, tmp_path, capsys):
    web, kjv = refs
    hyp, ref = write_lines(tmp_path / "hyp", kjv), write_lines(tmp_path / "ref", web)
    score_mod.main([str(hyp), str(ref)])
    out = capsys.readouterr().out.splitlines()
    assert out == [str(bleu(kjv, [web])), str(chrf(kjv, [web])), str(ter(kjv, [web]))]


def test_score_cli_mismatched_lines_is_one_line_error(refs, tmp_path, capsys):
    web, kjv = refs
    hyp, ref = write_lines(tmp_path / "hyp", kjv[:-1]), write_lines(tmp_path / "ref", web)
    with pytest.raises(SystemExit) as exc:
        score_mod.main([str(hyp), str(ref)])
    assert exc.value.code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ref" in err[0] and "30" in err[0] and "29" in err[0]


def test_score_classify_prints_accuracy_macro_f1_and_the_confusion(tmp_path):
    """Against a plain labels file and against a labelled table: the same numbers."""
    gold = ["a", "a", "a", "b", "b", "c"]
    (tmp_path / "hyp").write_text("a\na\nb\nb\nc\nc\n")
    (tmp_path / "ref").write_text("".join(g + "\n" for g in gold))
    (tmp_path / "ref.tsv").write_text("text\tlabel\n" + "".join(f"t{i}\t{g}\n"
                                                                for i, g in enumerate(gold)))
    outs = []
    for ref in ("ref", "ref.tsv"):
        result = run_cli("seq2seq-score", "--task", "classify", tmp_path / "hyp",
                         tmp_path / ref, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        outs.append(result.stdout)
    assert outs[0] == outs[1]
    lines = outs[0].splitlines()
    assert lines[0] == f"accuracy = {100 * 4 / 6:.2f}  macro-F1 = {100 * (0.8 + 0.5 + 2 / 3) / 3:.2f}"
    assert [line.split() for line in lines[1:]] == [["a", "b", "c"], ["a", "2", "1", "0"],
                                                    ["b", "0", "1", "1"], ["c", "0", "0", "1"]]


def test_score_classify_reads_only_the_label_column_of_a_reference(tmp_path, capsys):
    """A reference needs no text column: tables with only a label (or a label and another
    column), and a folder of label folders, score as a plain labels file does."""
    gold = ["a", "b", "b", "c"]
    (tmp_path / "hyp").write_text("a\nb\nc\nc\n")
    (tmp_path / "ref").write_text("".join(g + "\n" for g in gold))
    (tmp_path / "only.tsv").write_text("label\n" + "".join(g + "\n" for g in gold))
    (tmp_path / "other.csv").write_text("id,label\n" + "".join(f"{i},{g}\n"
                                                                for i, g in enumerate(gold)))
    (tmp_path / "only.jsonl").write_text("".join(f'{{"label": "{g}"}}\n' for g in gold))
    (tmp_path / "other.jsonl").write_text("".join(f'{{"id": {i}, "label": "{g}"}}\n'
                                                  for i, g in enumerate(gold)))
    for i, g in enumerate(gold):  # labels and files sorted: a, b, b, c as in `gold`
        (tmp_path / "folders" / g).mkdir(parents=True, exist_ok=True)
        (tmp_path / "folders" / g / f"{i}.txt").write_text(f"text {i}\n")
    outs = {}
    for ref in ("ref", "only.tsv", "other.csv", "only.jsonl", "other.jsonl", "folders"):
        score_mod.main(["--task", "classify", str(tmp_path / "hyp"), str(tmp_path / ref)])
        captured = capsys.readouterr()
        assert captured.err == "", (ref, captured.err)
        outs[ref] = captured.out
    assert outs["ref"].startswith(f"accuracy = {100 * 3 / 4:.2f}")
    assert all(out == outs["ref"] for out in outs.values()), outs


def test_score_classify_names_a_count_mismatch_and_an_empty_label(tmp_path):
    (tmp_path / "hyp").write_text("a\n\nb\n")
    (tmp_path / "ref").write_text("a\nb\n")
    result = run_cli("seq2seq-score", "--task", "classify", tmp_path / "hyp", tmp_path / "ref",
                     cwd=tmp_path)
    assert result.returncode != 0 and result.stderr.strip().endswith("hyp:2: empty label")
    (tmp_path / "hyp").write_text("a\nb\nb\n")
    result = run_cli("seq2seq-score", "--task", "classify", tmp_path / "hyp", tmp_path / "ref",
                     cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().endswith("ref has 2 labels but " + str(tmp_path / "hyp") +
                                          " has 3")
