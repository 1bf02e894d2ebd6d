"""Bad input and faults, through the real command-line tools in fresh processes.

Every bad input must end in exactly one line `<prog>: error: ...` that names the file and
line, or the config key, with no traceback; and nothing may be half written: checkpoints
and --output files are either the previous complete version or the new complete one.
"""
from __future__ import annotations

import contextlib
import io
import lzma
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import console_script, corpus_lines, run_main, write_lines
from seq2seq.data.tokenizer import train_spm
from seq2seq.training import checkpoint

SMALL_VOCAB = ["tokenizer.src_vocab_size=120", "tokenizer.tgt_vocab_size=120"]


def cli(name: str, *args, cwd: Path, stdin: bytes | None = None,
        fsize_limit: int | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """A console script in a fresh process; stdin as bytes; optionally a file size limit
    (RLIMIT_FSIZE: a write past it fails with EFBIG, as on a full disk)."""
    exe = console_script(name)
    limit = None if fsize_limit is None else (
        lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_limit, fsize_limit)))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run([exe, *map(str, args)], cwd=cwd, input=stdin, capture_output=True,
                          env=env, timeout=timeout, preexec_fn=limit)


def error_line(result: subprocess.CompletedProcess, prog: str, *needles: str) -> str:
    """The one error line: last on stderr, the only one, no traceback; names `needles`."""
    stderr = result.stderr.decode()
    assert result.returncode not in (0, None), stderr[-2000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    errors = [line for line in stderr.splitlines() if line.startswith(f"{prog}: error:")]
    assert len(errors) == 1 and stderr.splitlines()[-1] == errors[0], stderr[-2000:]
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


@pytest.fixture
def corpus(tiny_corpus, tmp_path) -> Path:
    """A writable copy of the tiny corpus (train 300, dev 20, test 20 verses)."""
    d = tmp_path / "corpus"
    shutil.copytree(tiny_corpus, d)
    return d


def prepare(corpus: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return cli("seq2seq-prepare", f"data.local_dir={corpus}", "data.extra_ref_langs=[]",
               f"data.prepared_dir={tmp_path / 'prepared'}", *SMALL_VOCAB, *extra,
               cwd=tmp_path)


def copy_run(smoke_run, tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    shutil.copytree(smoke_run["run_dir"], run_dir)
    return run_dir


def train_more(smoke_run, run_dir: Path, *extra: str, **kw) -> subprocess.CompletedProcess:
    """`seq2seq-train debug=smoke` resumed in `run_dir` with more overrides."""
    return cli("seq2seq-train", "debug=smoke", f"trainer.run_dir={run_dir}",
               f"data.prepared_dir={smoke_run['prepared_dir']}", *extra,
               cwd=run_dir.parent, **kw)


# ------------------------------------------------------------------ corpus files
def test_missing_corpus_names_the_file(tmp_path):
    result = prepare(tmp_path / "nowhere", tmp_path)
    error_line(result, "seq2seq-prepare", str(tmp_path / "nowhere" / "train.es"), "no such file")


def test_unreadable_corpus_names_the_file(corpus, tmp_path):
    (corpus / "train.es").unlink()
    (corpus / "train.es.xz").write_bytes(b"this is not xz data\n")
    result = prepare(corpus, tmp_path)
    error_line(result, "seq2seq-prepare", str(corpus / "train.es.xz"), "cannot read")
    assert not (tmp_path / "prepared").exists() or not any((tmp_path / "prepared").rglob("*.json"))


def test_parallel_files_of_different_lengths_name_both_files_and_counts(corpus, tmp_path):
    write_lines(corpus / "train.en", corpus_lines("train", "en", 299))
    line = error_line(prepare(corpus, tmp_path), "seq2seq-prepare")
    assert f"{corpus / 'train.es'} has 300 lines" in line
    assert f"{corpus / 'train.en'} has 299" in line


def _break_utf8(path: Path, line_number: int) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[line_number - 1] = b"caf\xe9 \xff" + lines[line_number - 1]
    path.write_bytes(b"\n".join(lines))


def test_invalid_utf8_in_the_corpus_names_file_and_line(corpus, tmp_path):
    _break_utf8(corpus / "train.en", 17)
    result = prepare(corpus, tmp_path)
    error_line(result, "seq2seq-prepare", f"{corpus / 'train.en'}:17:", "invalid UTF-8")


def test_invalid_utf8_in_dev_is_an_error_even_when_training_lines_may_be_skipped(corpus,
                                                                                   tmp_path):
    _break_utf8(corpus / "dev.es", 3)
    result = prepare(corpus, tmp_path, "data.on_bad_line=skip")
    error_line(result, "seq2seq-prepare", f"{corpus / 'dev.es'}:3:", "invalid UTF-8")


def test_on_bad_line_skip_drops_the_pairs_and_counts_them(corpus, tmp_path):
    _break_utf8(corpus / "train.en", 17)
    _break_utf8(corpus / "train.es", 40)
    _break_utf8(corpus / "train.es", 41)
    result = prepare(corpus, tmp_path, "data.on_bad_line=skip")
    log = result.stderr.decode()
    assert result.returncode == 0, log[-3000:]
    assert f"{corpus / 'train.en'}: skipped 1 pairs for invalid UTF-8 on this side (first: " \
           "line 17)" in log
    assert f"{corpus / 'train.es'}: skipped 2 pairs for invalid UTF-8 on this side (first: " \
           "line 40)" in log
    assert re.search(r"train: kept \d+ of 297 pairs", log), log[-3000:]


def test_empty_and_overlong_training_pairs_are_dropped_and_counted(corpus, tmp_path):
    es, en = corpus_lines("train", "es", 300), corpus_lines("train", "en", 300)
    es[5], en[9], es[12], en[12] = "", "   ", "", ""  # three pairs with an empty side
    es[20] = " ".join(es[:8])  # far over 60 pieces
    write_lines(corpus / "train.es", es)
    write_lines(corpus / "train.en", en)
    result = prepare(corpus, tmp_path, "data.max_len=60")
    log = result.stderr.decode()
    assert result.returncode == 0, log[-3000:]
    m = re.search(r"train: kept (\d+) of 300 pairs; dropped (\d+) with an empty side, "
                  r"(\d+) over 60 pieces", log)
    assert m, log[-3000:]
    kept, empty, long = map(int, m.groups())
    assert empty == 3 and long >= 1 and kept == 300 - empty - long


# ------------------------------------------------------------------ config
@pytest.mark.parametrize("override, key", [
    ("model.no_such_key=1", "model.no_such_key"),  # unknown
    ("optim.lr=abc", "optim.lr"),  # mistyped
    ("trainer.max_steps=1.5", "trainer.max_steps"),
    ("trainer.seed=???", "trainer.seed"),  # missing
    ("experiment=no_such", "experiment/no_such"),  # no such option
    ("optim.lr=-1", "optim.lr"),  # out of range
    ("decode.beam_size=0", "decode.beam_size"),
    ("model.dropout=1.0", "model.dropout"),
    ("data.local_dir=null", "data.local_dir"),  # then no corpus at all
])
def test_bad_config_is_one_line_naming_the_key(override, key, tmp_path):
    result = cli("seq2seq-train", override, f"trainer.run_dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode == 2
    error_line(result, "seq2seq-train", key)
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------ checkpoints
@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_damaged_checkpoint_is_named(damage, smoke_run, tmp_path):
    run_dir = copy_run(smoke_run, tmp_path)
    for name in ("best.pt", "last.pt"):
        data = (run_dir / "checkpoints" / name).read_bytes()
        broken = data[: len(data) // 2] if damage == "truncated" else \
            bytes(random.Random(0).randrange(256) for _ in range(len(data)))
        (run_dir / "checkpoints" / name).write_bytes(broken)
    result = cli("seq2seq-translate", run_dir, stdin=b"hola\n", cwd=tmp_path)
    error_line(result, "seq2seq-translate", str(run_dir / "checkpoints" / "best.pt"), "truncated or corrupt")
    assert result.stdout == b""
    result = train_more(smoke_run, run_dir, "trainer.max_steps=8")
    error_line(result, "seq2seq-train", str(run_dir / "checkpoints" / "last.pt"), "truncated or corrupt")


def test_checkpoint_of_another_vocabulary_is_named(smoke_run, tmp_path):
    run_dir = copy_run(smoke_run, tmp_path)
    train_spm(corpus_lines("train", "en", 300), tmp_path / "other", vocab_size=150,
              model_type="unigram")
    shutil.copy(tmp_path / "other.model", run_dir / "spm" / "tgt.model")
    result = cli("seq2seq-translate", run_dir, stdin=b"hola\n", cwd=tmp_path)
    error_line(result, "seq2seq-translate", str(run_dir / "checkpoints" / "best.pt"),
               "another model shape or vocabulary", "decoder.embed.weight", "(200, 16)", "(150, 16)")


def test_resuming_with_another_model_shape_is_named(smoke_run, tmp_path):
    run_dir = copy_run(smoke_run, tmp_path)
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    result = train_more(smoke_run, run_dir, "model.hidden_dim=32", "trainer.max_steps=8")
    error_line(result, "seq2seq-train", f"{run_dir}: a run of another config",
               "model.hidden_dim=16 (now 32)")
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before


def test_run_directory_without_a_model(tmp_path):
    (tmp_path / "empty_run").mkdir()
    result = cli("seq2seq-translate", tmp_path / "empty_run", stdin=b"hola\n", cwd=tmp_path)
    error_line(result, "seq2seq-translate", str(tmp_path / "empty_run"), "no checkpoints/best.pt or last.pt")
    result = cli("seq2seq-translate", tmp_path / "gone", stdin=b"hola\n", cwd=tmp_path)
    error_line(result, "seq2seq-translate", str(tmp_path / "gone"), "no such")


# ------------------------------------------------------------------ non-finite loss
def test_nonfinite_loss_stops_and_keeps_the_last_good_checkpoint(smoke_run, tmp_path):
    run_dir = copy_run(smoke_run, tmp_path)
    before = (run_dir / "checkpoints" / "last.pt").read_bytes()
    # One step at lr 1e38 sends the weights near the float limit: the next loss overflows.
    result = train_more(smoke_run, run_dir, "optim.lr=1e38", "optim.clip_norm=1e38",
                        "trainer.max_steps=12")
    error_line(result, "seq2seq-train", "non-finite loss", "at step 8",
               str(run_dir / "checkpoints" / "last.pt"), "last good state")
    assert (run_dir / "checkpoints" / "last.pt").read_bytes() == before
    assert checkpoint.load(run_dir / "checkpoints" / "last.pt")["step"] == 6


def test_nonfinite_loss_can_skip_batches_and_counts_them(smoke_run, tmp_path):
    run_dir = copy_run(smoke_run, tmp_path)
    result = train_more(smoke_run, run_dir, "optim.lr=1e38", "optim.clip_norm=1e38",
                        "trainer.max_steps=10", "trainer.on_nonfinite=skip")
    log = result.stderr.decode()
    assert result.returncode == 0, log[-3000:]
    assert "skipped step 8 (epoch 0, batch 8): non-finite loss or gradient (1 skipped so far)" \
        in log
    assert "(3 skipped so far)" in log
    assert checkpoint.load(run_dir / "checkpoints" / "last.pt")["skipped"] == 3


# ------------------------------------------------------------------ full disk
def test_full_disk_keeps_the_last_good_checkpoint(smoke_run, tmp_path):
    run_dir = copy_run(smoke_run, tmp_path)
    before = (run_dir / "checkpoints" / "last.pt").read_bytes()
    limit = len(before) // 2  # the log and config fit; a checkpoint does not
    result = train_more(smoke_run, run_dir, "trainer.max_steps=8", fsize_limit=limit)
    error_line(result, "seq2seq-train", str(run_dir), ".pt: not written (File too large)",
               "the previous version is kept")
    assert (run_dir / "checkpoints" / "last.pt").read_bytes() == before
    assert checkpoint.load(run_dir / "checkpoints" / "last.pt")["step"] == 6
    assert not list(run_dir.glob("**/.*.tmp"))
    # With room again, the same command goes on from the kept checkpoint.
    result = train_more(smoke_run, run_dir, "trainer.max_steps=8")
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    assert checkpoint.load(run_dir / "checkpoints" / "last.pt")["step"] == 8


# ------------------------------------------------------------------ signals and exact resume
LONG_RUN = ["trainer.max_steps=100000", "optim.epochs=1000", "trainer.log_every=1"]


def _start_training(smoke_run, run_dir: Path, *extra: str) -> subprocess.Popen:
    exe = console_script("seq2seq-train")
    args = ["debug=smoke", f"trainer.run_dir={run_dir}",
            f"data.prepared_dir={smoke_run['prepared_dir']}", *extra]
    return subprocess.Popen([exe, *args], cwd=run_dir.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(os.environ, OMP_NUM_THREADS="1"))


def _wait_for_step(proc: subprocess.Popen, run_dir: Path, step: int, timeout: float = 120):
    log, deadline = run_dir / "train.log", time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if log.is_file() and f" step {step} |" in log.read_text():
            return
        time.sleep(0.01)
    raise AssertionError(f"step {step} not reached; exit {proc.poll()}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigint_and_sigterm_stop_cleanly_with_a_checkpoint(sig, smoke_run, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    proc = _start_training(smoke_run, run_dir, *LONG_RUN)
    _wait_for_step(proc, run_dir, 3)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, stderr.decode()[-2000:]
    last = stderr.decode().splitlines()[-1]
    assert "Traceback" not in stderr.decode()
    assert last.startswith(f"seq2seq-train: stopped by {sig.name} at step ")
    step = int(last.split(" at step ")[1].split(";")[0])
    assert f"{run_dir / 'checkpoints' / 'last.pt'} saved" in last
    assert checkpoint.load(run_dir / "checkpoints" / "last.pt")["step"] == step >= 3


EXACT = ["model.dropout=0.3", "trainer.max_steps=70", "trainer.save_every=1",
         "trainer.log_every=1"]  # 70 steps cross an epoch end (61 batches): an evaluation


@pytest.fixture(scope="module")
def uninterrupted(smoke_run, tmp_path_factory) -> dict:
    run_dir = tmp_path_factory.mktemp("straight") / "run"
    run_dir.mkdir()
    result = train_more(smoke_run, run_dir, *EXACT)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    return checkpoint.load(run_dir / "checkpoints" / "last.pt")


def _kill_and_resume(smoke_run, run_dir: Path, rng: random.Random) -> dict:
    run_dir.mkdir()
    proc = _start_training(smoke_run, run_dir, *EXACT)
    _wait_for_step(proc, run_dir, rng.randint(1, 68))
    time.sleep(rng.uniform(0, 0.05))  # lands anywhere: mid-step, mid-save, mid-evaluation
    proc.kill()
    proc.communicate()
    result = train_more(smoke_run, run_dir, *EXACT)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    assert "resumed from" in (run_dir / "train.log").read_text()
    return checkpoint.load(run_dir / "checkpoints" / "last.pt")


def _assert_identical(a: dict, b: dict) -> None:
    assert a["step"] == b["step"] == 70
    assert a["model"].keys() == b["model"].keys()
    for name in a["model"]:
        assert torch.equal(a["model"][name], b["model"][name]), name
    assert a["best"] == b["best"]


def test_sigkill_then_the_same_command_gives_bit_identical_parameters(smoke_run, uninterrupted,
                                                                      tmp_path):
    _assert_identical(uninterrupted, _kill_and_resume(smoke_run, tmp_path / "run",
                                                      random.Random(1)))


@pytest.mark.slow
def test_sigkill_at_random_steps_ten_times_in_a_row(smoke_run, uninterrupted, tmp_path):
    rng = random.Random(2026)
    for trial in range(10):
        _assert_identical(uninterrupted,
                          _kill_and_resume(smoke_run, tmp_path / f"run{trial}", rng))


# ------------------------------------------------------------------ translate and score
def test_translate_missing_input_file(smoke_run, tmp_path):
    result = cli("seq2seq-translate", smoke_run["run_dir"], "--input", tmp_path / "in.txt",
                 cwd=tmp_path)
    error_line(result, "seq2seq-translate", str(tmp_path / "in.txt"), "no such input file")


def test_translate_invalid_utf8_names_the_line_and_writes_nothing(smoke_run, tmp_path):
    src = tmp_path / "in.txt"
    src.write_bytes(b"hola\ny luego\nbad \xc3\x28 byte\nfin\n")
    out = tmp_path / "out.txt"
    out.write_text("previous complete output\n")
    result = cli("seq2seq-translate", smoke_run["run_dir"], "--input", src, "--output", out,
                 cwd=tmp_path)
    error_line(result, "seq2seq-translate", f"{src}:3:", "invalid UTF-8")
    assert out.read_text() == "previous complete output\n"
    result = cli("seq2seq-translate", smoke_run["run_dir"], stdin=src.read_bytes(), cwd=tmp_path)
    error_line(result, "seq2seq-translate", "<stdin>:3:", "invalid UTF-8")
    assert result.stdout == b""


def test_translate_empty_and_overlong_lines_still_give_one_line_each(smoke_run, tmp_path):
    long_line = " ".join(corpus_lines("test", "es", 12))  # far over data.max_len pieces
    lines = ["hola", "", "   ", long_line, "\t", "amen"]
    stdin = "".join(line + "\n" for line in lines).encode()
    result = cli("seq2seq-translate", smoke_run["run_dir"], stdin=stdin, cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode().split("\n")
    assert out[-1] == "" and len(out) - 1 == len(lines)
    assert [o for o, line in zip(out, lines) if not line.strip()] == ["", "", ""]
    warning = result.stderr.decode().strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith("seq2seq-translate: warning: <stdin>:4: ")
    assert "longer than the 80 of training; decoded anyway" in warning[0]


def test_translate_streams_each_line_as_it_arrives(smoke_run, tmp_path):
    exe = console_script("seq2seq-translate")
    proc = subprocess.Popen([exe, str(smoke_run["run_dir"]), "--stream"], cwd=tmp_path,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(os.environ, OMP_NUM_THREADS="1"))
    try:
        answers = []
        for line in (b"hola\n", b"\n", b"y dijo Dios\n"):
            proc.stdin.write(line)
            proc.stdin.flush()
            answers.append(proc.stdout.readline())  # before stdin is closed
        assert answers[1] == b"\n" and all(a.endswith(b"\n") for a in answers)
        proc.stdin.close()
        assert proc.stdout.read() == b"" and proc.wait(timeout=60) == 0
    finally:
        proc.kill()


def test_score_missing_reference_and_mismatched_counts(tmp_path):
    hyp = write_lines(tmp_path / "hyp.txt", ["a", "b"])
    result = cli("seq2seq-score", hyp, tmp_path / "ref.txt", cwd=tmp_path)
    error_line(result, "seq2seq-score", str(tmp_path / "ref.txt"), "no such file")
    ref = write_lines(tmp_path / "ref.txt", ["a"])
    result = cli("seq2seq-score", hyp, ref, cwd=tmp_path)
    error_line(result, "seq2seq-score", f"{ref} has 1 lines", f"{hyp} has 2")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"a\n\xff\n")
    error_line(cli("seq2seq-score", hyp, bad, cwd=tmp_path), "seq2seq-score", f"{bad}:2:")


def test_xz_input_is_read_like_plain_text(smoke_run, tmp_path):
    plain = write_lines(tmp_path / "in.txt", corpus_lines("test", "es", 5))
    packed = tmp_path / "in.txt.xz"
    packed.write_bytes(lzma.compress(plain.read_bytes()))
    a = cli("seq2seq-translate", smoke_run["run_dir"], "--input", plain, cwd=tmp_path)
    b = cli("seq2seq-translate", smoke_run["run_dir"], "--input", packed, cwd=tmp_path)
    assert a.returncode == b.returncode == 0 and a.stdout == b.stdout
    assert a.stdout.count(b"\n") == 5


# ------------------------------------------------------------------ fuzz
def _lines_of(data: bytes) -> list[bytes]:
    """What a text tool counts as lines: split at b"\\n", a final unterminated line kept."""
    lines = data.split(b"\n")
    return lines[:-1] if lines[-1] == b"" else lines


def _translate_in_process(argv: list[str], data: bytes) -> tuple[int, str, str]:
    from seq2seq.tasks.translation import cli as translate
    return run_main(translate.main, argv, data)


def _check_n_in_n_out(status: int, out: str, err: str, data: bytes, nbest: int = 1) -> None:
    lines = _lines_of(data)
    bad = [i for i, raw in enumerate(lines, start=1) if not _is_utf8(raw)]
    if bad:  # the first bad line is named, nothing is written
        assert status == 1 and out == "", err
        assert err.strip().splitlines() == [err.strip()]
        assert err.startswith(f"seq2seq-translate: error: <stdin>:{bad[0]}: invalid UTF-8")
        return
    assert status == 0, err
    assert "Traceback" not in err
    assert out.count("\n") == len(lines) * nbest and (out == "" or out.endswith("\n"))
    if nbest == 1:
        got = out.split("\n")[:-1]
        for raw, text in zip(lines, got):
            if not raw.decode().strip():
                assert text == ""


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


LINE = st.one_of(st.binary(max_size=40), st.text(max_size=60).map(str.encode),
                 st.sampled_from([b"", b" ", b"\r", b"\t\x0b\x0c", b"\x00", b"\xe2\x80\xa8",
                                  b"\xc2\x85", b"y dijo Dios", b"\xef\xbb\xbfhola"]))


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=st.lists(LINE.map(lambda b: b.replace(b"\n", b"")), max_size=8),
       newline_at_end=st.booleans(), beam=st.integers(1, 3), nbest=st.integers(1, 2))
def test_fuzz_translate_n_lines_in_n_lines_out(smoke_run, lines, newline_at_end, beam, nbest):
    data = b"\n".join(lines) + (b"\n" if newline_at_end and lines else b"")
    nbest = min(nbest, beam)
    status, out, err = _translate_in_process(
        [str(smoke_run["run_dir"]), "--beam-size", str(beam), "--nbest", str(nbest)], data)
    _check_n_in_n_out(status, out, err, data, nbest)


@pytest.mark.slow  # the fuzz above runs the same main in-process; here a fresh process a case
def test_fuzz_translate_through_the_real_cli(smoke_run, tmp_path):
    rng = random.Random(7)
    for valid in (True, True, False):
        lines = [bytes(rng.randrange(256) for _ in range(rng.randrange(30)))
                 for _ in range(rng.randrange(5, 15))]
        lines = [(raw.decode("utf-8", "ignore").encode() if valid else raw).replace(b"\n", b"")
                 for raw in lines]
        if not valid:
            lines[3] = b"\xff" + lines[3]
        data = b"\n".join(lines) + b"\n"
        result = cli("seq2seq-translate", smoke_run["run_dir"], stdin=data, cwd=tmp_path)
        _check_n_in_n_out(result.returncode, result.stdout.decode(), result.stderr.decode(), data)


CONFIG_KEYS = ["optim.lr", "optim.epochs", "model.layers", "model.dropout", "decode.beam_size",
               "decode.nbest", "trainer.max_steps", "trainer.precision", "data.max_len",
               "tokenizer.model_type", "data.local_dir", "model", "experiment", "debug",
               "model.no_such", "+extra", "~trainer.seed", "trainer"]
CONFIG_VALUES = st.one_of(
    st.integers(-3, 300).map(str), st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.text(max_size=12),
    st.sampled_from(["null", "???", "[1,2]", "{a: 1}", "true", "'", '"', "=", "", "${nope}",
                     "${oc.env:HOME}", "bible_demo", "smoke", "paper", "bf16", "word", "1e-3"]))


@settings(max_examples=120, deadline=None)
@given(overrides=st.lists(st.tuples(st.sampled_from(CONFIG_KEYS), CONFIG_VALUES), max_size=4))
def test_fuzz_config_loader_is_a_config_or_one_line(overrides):
    from seq2seq.config.compose import TrainConfig, cli_config
    argv = [f"{k}={v}" for k, v in overrides]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            cfg = cli_config(argv, "seq2seq-train")
        except SystemExit as exc:
            assert exc.code == 2
            lines = err.getvalue().splitlines()
            assert len(lines) == 1 and lines[0].startswith("seq2seq-train: error: config"), lines
            return
    assert isinstance(cfg, TrainConfig) and err.getvalue() == ""
