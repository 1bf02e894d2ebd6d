"""seq2seq-translate: N lines in, N lines out; files and stdin agree; a saved model translates
in a fresh process exactly as it did before saving."""
from __future__ import annotations

import dataclasses
import io
import random
import re
import subprocess
import sys

import pytest
import torch

from seq2seq.config.compose import ConfigError, config_to_dict, load_config
from seq2seq.data.textfile import read_lines
from seq2seq.models.encoder_decoder import build_model
from seq2seq.tasks.translation.cli import main, read_input
from seq2seq.tasks.translation.translator import Translator, load_run
from seq2seq.training import checkpoint
from seq2seq.training.hardware import pick_precision
from seq2seq.training.rundir import RunDir

from conftest import corpus_lines, run_cli, write_lines

CPU = torch.device("cpu")


def translate_text(model, tok, lines, decode, device):
    return Translator(model, tok, decode, device).translate(lines)


@pytest.fixture(scope="module")
def saved(tokenizer, tmp_path_factory):
    """A random model saved as a run directory, in the format train.py's Run.state uses,
    together with the in-memory model it came from and some input lines."""
    run_dir = tmp_path_factory.mktemp("translate") / "run"
    run_dir.mkdir()
    (run_dir / "spm").mkdir()
    (run_dir / "spm" / "src.model").write_bytes(tokenizer.src.serialized_model_proto())
    (run_dir / "spm" / "tgt.model").write_bytes(tokenizer.tgt.serialized_model_proto())
    cfg = load_config(["debug=smoke", f"trainer.run_dir={run_dir}", "decode.beam_size=3",
                       "decode.max_len_a=0.5", "decode.max_len_b=4"])
    torch.manual_seed(1)
    model = build_model(cfg.model, tokenizer.src_vocab_size, tokenizer.tgt_vocab_size)
    with torch.no_grad():  # sharper than the 0.08 init, so outputs differ between lines
        for p in model.parameters():
            p.uniform_(-0.6, 0.6)
    model.eval()
    opt = torch.optim.SGD(model.parameters(), lr=cfg.optim.lr)
    checkpoint.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 0,
                     "next_batch": 0, "step": 0, "best": None, "elapsed": 0.0,
                     "config": config_to_dict(cfg),
                     "rng": {"torch": torch.get_rng_state(), "python": random.getstate(),
                             "cuda": []}}, RunDir(run_dir).checkpoint("best.pt"))
    lines = corpus_lines("dev", "es", 7)
    lines = lines[:3] + [""] + lines[3:] + [""]
    expected = translate_text(model, tokenizer, lines, cfg.decode, CPU)
    return {"run_dir": run_dir, "model": model, "cfg": cfg, "lines": lines,
            "expected": expected, "tok": tokenizer}


def test_in_process_reference_is_sane(saved):
    out, lines = saved["expected"], saved["lines"]
    assert len(out) == len(lines)
    assert [o == "" for o, line in zip(out, lines) if line == ""] == [True, True]
    assert len(set(o for o, line in zip(out, lines) if line)) > 1  # lines differ


def test_stdin_in_a_fresh_process_gives_the_saved_models_translations(saved, tmp_path):
    text = "".join(line + "\n" for line in saved["lines"])
    result = run_cli("seq2seq-translate", saved["run_dir"], stdin=text, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:-1] == saved["expected"]
    assert result.stdout.endswith("\n")


def test_input_and_output_files_match_stdin(saved, tmp_path):
    src = write_lines(tmp_path / "in.es", saved["lines"])
    out = tmp_path / "out.en"
    result = run_cli("seq2seq-translate", saved["run_dir"], "--input", src, "--output", out,
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert out.read_text().split("\n")[:-1] == saved["expected"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.es", "out.en"]  # no temp file


def test_output_to_a_pipe_writes_into_it_and_leaves_it_a_pipe(saved, tmp_path):
    """--output /dev/null or a named pipe: written into, never replaced by a file (an
    atomic replace would put a regular file where the device was)."""
    import os
    import stat
    import threading
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    src = write_lines(tmp_path / "in.es", saved["lines"])
    result = run_cli("seq2seq-translate", saved["run_dir"], "--input", src, "--output", fifo,
                     cwd=tmp_path)
    reader.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert got and got[0].split("\n")[:-1] == saved["expected"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_loaded_model_equals_the_saved_one(saved):
    model, tok, cfg = load_run(saved["run_dir"], CPU)
    assert cfg == saved["cfg"]
    assert tok.reverse_source == cfg.model.reverse_source
    for name, value in saved["model"].state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name
    assert translate_text(model, tok, saved["lines"], cfg.decode, CPU) == saved["expected"]


def test_lines_come_back_in_input_order(saved):
    """Lines are sorted by length and batched; each must still get its own translation."""
    model, tok, cfg = saved["model"], saved["tok"], saved["cfg"]
    decode = dataclasses.replace(cfg.decode, batch_size=2)
    together = translate_text(model, tok, saved["lines"], decode, CPU)
    alone = [translate_text(model, tok, [line], decode, CPU)[0] for line in saved["lines"]]
    assert together == alone == saved["expected"]


@pytest.mark.parametrize("data", [b"uno\r\ndos\r\n\r\ntres", b"a\r\r\nb\n", b"\xc3\xb1\n\n",
                                  b"ok\nbad \xc3\x28 byte\n", b"cut \xe2\x82\nfin\n",
                                  b"cut at the end \xe2\x82"])
def test_stdin_reads_and_fails_as_the_same_bytes_in_a_file(data, tmp_path, monkeypatch):
    """Line ends, "\\r", and the error for invalid UTF-8 (its reason too) are the same."""
    path = tmp_path / "in.txt"
    path.write_bytes(data)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))

    def lines_or_error(read, name):
        try:
            return read()
        except ValueError as exc:
            return str(exc).replace(name, "NAME")
    from_file = lines_or_error(lambda: list(read_lines(path)), str(path))
    assert lines_or_error(lambda: read_input(None), "<stdin>") == from_file


def test_checkpoint_file_works_like_its_run_directory(saved, tmp_path, capsys):
    src = write_lines(tmp_path / "in.es", saved["lines"])
    main([str(RunDir(saved["run_dir"]).checkpoint("best.pt")), "--input", str(src)])
    assert capsys.readouterr().out.split("\n")[:-1] == saved["expected"]


def test_beam_size_one_runs_greedy(saved, tmp_path, capsys):
    src = write_lines(tmp_path / "in.es", saved["lines"])
    main([str(saved["run_dir"]), "--input", str(src), "--beam-size", "1"])
    decode = dataclasses.replace(saved["cfg"].decode, beam_size=1)
    expected = translate_text(saved["model"], saved["tok"], saved["lines"], decode, CPU)
    assert capsys.readouterr().out.split("\n")[:-1] == expected


def test_nbest_gives_n_lines_per_input_line(saved, tmp_path, capsys):
    src = write_lines(tmp_path / "in.es", saved["lines"])
    main([str(saved["run_dir"]), "--input", str(src), "--nbest", "2"])
    out = capsys.readouterr().out.split("\n")[:-1]
    assert len(out) == 2 * len(saved["lines"])
    rows = [line.split(" ||| ") for line in out]
    assert all(len(r) == 3 for r in rows)
    assert [int(r[0]) for r in rows] == [i for i in range(len(saved["lines"])) for _ in "ab"]
    for i, line in enumerate(saved["lines"]):
        (_, first, s1), (_, second, s2) = rows[2 * i: 2 * i + 2]
        if line:
            assert first == saved["expected"][i]  # the 1-best comes first
            assert float(s1) >= float(s2)
        else:
            assert first == second == "" and s1 == s2 == "-inf"


def test_output_lines_number_from_the_first_index(saved, tmp_path, capsys):
    """What the interactive mode writes for its line N: the n-best rows numbered N - 1."""
    t = Translator(saved["model"], saved["tok"], saved["cfg"].decode, CPU)
    hyps = t.hypotheses(saved["lines"], t.settings(nbest=2))
    src = write_lines(tmp_path / "in.es", saved["lines"])
    main([str(saved["run_dir"]), "--input", str(src), "--nbest", "2"])
    from_zero = capsys.readouterr().out.split("\n")[:-1]
    assert t.output_lines(hyps, 2) == from_zero
    shifted = [f"{int(i) + 5} ||| {rest}" for i, rest in
               (row.split(" ||| ", 1) for row in from_zero)]
    assert t.output_lines(hyps, 2, first_index=5) == shifted
    assert t.output_lines([h[:1] for h in hyps], 1) == saved["expected"]


def test_missing_input_file_is_one_line_naming_it(saved, tmp_path):
    result = run_cli("seq2seq-translate", saved["run_dir"], "--input", tmp_path / "nope.es",
                     cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "nope.es" in lines[0], result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("args,message", [
    (["--nbest", "4", "--beam-size", "3"], "config key 'decode.nbest': must be in [1, beam_size]"),
    (["--beam-size", "0"], "config key 'decode.beam_size': must be >= 1"),
    (["--batch-size", "0"], "config key 'decode.batch_size': must be >= 1")])
def test_bad_decode_options_are_one_line(saved, capsys, args, message):
    with pytest.raises(SystemExit) as exc:
        main([str(saved["run_dir"]), *args])
    assert exc.value.code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"seq2seq-translate: error: {message}"]


def test_missing_run_directory_is_named(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([str(tmp_path / "no_run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no_run" in err[0]


def test_a_trained_run_translates(smoke_run):
    model, tok, cfg = load_run(smoke_run["run_dir"], CPU)
    lines = corpus_lines("dev", "es", 5)
    out = translate_text(model, tok, lines + [""], cfg.decode, CPU)
    assert len(out) == 6 and out[-1] == "" and all("\n" not in o for o in out)


def test_the_python_api_translates_like_the_cli(saved):
    t = Translator.from_run(saved["run_dir"], device="cpu")
    assert t.translate(saved["lines"]) == saved["expected"]
    nbest = t.translate_nbest(saved["lines"], nbest=2)
    for line, expected, hyps in zip(saved["lines"], saved["expected"], nbest):
        assert hyps == [] if not line else (len(hyps) == 2 and hyps[0][0] == expected
                                            and hyps[0][1] >= hyps[1][1])
    with pytest.raises(ConfigError, match=re.escape(
            "config key 'decode.nbest': must be in [1, beam_size]")):
        t.translate_nbest(["Hola."], beam=2, nbest=3)


def test_bf16_search_runs_in_bf16_and_scores_like_fp32(saved, bf16_kernels):
    """On oneDNN's kernels and on torch's own; the lines have mixed source lengths, so the
    encoder runs once per length and gathers the states of each."""
    t = Translator.from_run(saved["run_dir"], device="cpu")
    lines = [line for line in saved["lines"] if line]
    assert len({len(ids) for ids in t.tokenizer.encode_source(lines)}) > 1
    fp32 = t.hypotheses(lines, t.settings(precision="fp32"))
    with bf16_kernels():
        bf16 = t.hypotheses(lines, t.settings(precision="bf16"))
    best32, best16 = [h[0].score for h in fp32], [h[0].score for h in bf16]
    assert best32 != best16  # autocast is on: the products round differently
    for a, b in zip(best32, best16):  # ... but the search finds as good a hypothesis
        assert abs(a - b) <= 0.03 * abs(a) + 0.1, (best32, best16)
    with pytest.raises(ConfigError, match=re.escape(
            "config key 'decode.precision': auto | fp32 | bf16")):
        t.settings(precision="fp8")


def test_auto_search_runs_in_the_precision_auto_picks(saved):
    """auto: whichever of fp32 and bf16 is faster here (measured; tests/training/test_hardware.py)."""
    t = Translator.from_run(saved["run_dir"], device="cpu")
    lines = [line for line in saved["lines"] if line]
    picked = pick_precision("auto", CPU, "decode.precision")
    auto = t.hypotheses(lines, t.settings(precision="auto"))
    assert auto == t.hypotheses(lines, t.settings(precision=picked))


def test_the_python_api_in_a_fresh_process(saved, tmp_path):
    code = ("import sys; from seq2seq import Translator; "
            "t = Translator.from_run(sys.argv[1]); "
            "print('\\n'.join(t.translate(sys.argv[2:], beam=3)))")
    lines = [line for line in saved["lines"] if line][:2]
    result = subprocess.run([sys.executable, "-c", code, str(saved["run_dir"]), *lines],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [saved["expected"][0], saved["expected"][1]]
