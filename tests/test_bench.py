"""bench/: our side of `make bench` on a tiny model (Joey's side needs its own environment,
installed by `make bench`), and the report's ratios from a set of results."""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))
import paper_size  # noqa: E402
import run as bench_run  # noqa: E402  (bench/ is not a package: it is not shipped)

FAST = bench_run.PRECISIONS[-1]  # bf16 where this CPU has it natively, else fp32


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    rng = random.Random(0)

    def sentences(n, lo, hi):
        return [[rng.randrange(4, 30) for _ in range(rng.randint(lo, hi))] for _ in range(n)]
    batches = [(sentences(4, 5, 5), sentences(4, 3, 7)) for _ in range(4)]
    w = {"shape": {"hidden": 16, "emb": 8, "layers": 2, "dropout": 0.1}, "src_vocab": 30,
         "tgt_vocab": 30, "sentences": 4, "train": batches, "train_2": batches,
         "test": [[s + [3] for s in sentences(3, 2, 4)], [s + [3] for s in sentences(2, 6, 9)]]}
    path = tmp_path_factory.mktemp("bench") / "work.pt"
    torch.save(w, path)
    return path


def worker(work: Path, *args: str) -> dict:
    out = subprocess.run([sys.executable, str(BENCH / "ours_worker.py"), str(work), *args],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("model,precision", [("same", "fp32"), ("paper", FAST)])
def test_training_measurements(work, model, precision):
    r = worker(work, "train", "--model", model, "--precision", precision, "--steps", "2",
               "--warmup", "1")
    assert r["tokens_per_s"] > 0 and r["peak_rss_mb"] > 50
    assert r["flops_per_s"] > 0


def test_decoding_measurements(work):
    greedy = worker(work, "decode", "--beam", "1")
    beam = worker(work, "decode", "--beam", "2", "--precision", FAST)
    quantised = worker(work, "decode", "--beam", "2", "--precision", "int8")
    for r in (greedy, beam, quantised):
        assert r["sentences_per_s"] > 0 and len(r["groups"]) == 2
        # an untrained model rarely ends a sentence: outputs run to 1.5 x source length
        assert 0 < r["mean_output_pieces"] <= 1.5 * 10
    assert greedy["search_flops_per_s"] > 0 and "search_flops_per_s" not in beam


def test_counted_flops_of_joeys_model_by_hand():
    import ours_worker
    w = {"shape": {"hidden": 16, "emb": 8, "layers": 2, "dropout": 0.0}, "src_vocab": 30,
         "tgt_vocab": 40}
    model = ours_worker.build(w, "same")
    # multiply-adds per source position: bi-LSTM layers 2 x 4*16*(8+16), 2 x 4*16*(32+16);
    # bridge 32*16 and keys 16*16. Per target position: input-feeding LSTM 4*16*(24+16),
    # 4*16*(16+16); combination 32*16, output 16*40, scores and context 2*S*16.
    src, tgt, S = 11, 7, 5
    macs = (2 * 1536 + 2 * 3072 + 512 + 256) * src + (2560 + 2048 + 512 + 640 + 32 * S) * tgt
    assert ours_worker.forward_flops(model, src, tgt, S) == 2 * macs


def test_the_report_holds_every_ratio(tmp_path):
    def m(**kw):
        return {"peak_rss_mb": 500.0, **kw}
    r = {"machine": "test", "commit": "abc1234", "date": "today", "wall_min": 7.5,
         "joey_train": m(tokens_per_s=100.0),
         "matmul_fp32": m(flops_per_s=1e11), "matmul_bf16": m(flops_per_s=2e11),
         "joey_decode_beam1": m(sentences_per_s=10.0, mean_output_pieces=31.0),
         "joey_decode_beam5": m(sentences_per_s=4.0)}
    for p in ("fp32", "bf16"):
        r[f"ours_train_same_{p}"] = m(tokens_per_s=250.0, flops_per_s=4e10)
        r[f"ours_train_paper_{p}"] = m(tokens_per_s=400.0, flops_per_s=6e10)
    for n in bench_run.SCALING_SENTENCES:
        r[f"ours_train_paper_bf16_{n}"] = m(tokens_per_s=float(n))
    for b in (1, 2, 5, 12):  # bf16 twice as fast as fp32; 1000/30 ms a sentence per beam
        for p, speed in (("fp32", 15.0), ("bf16", 30.0)):
            # per sentence, 2 ms a piece of the batch's longest source, not of its mean
            r[f"ours_decode_beam{b}_{p}"] = m(sentences_per_s=speed / b, groups=[
                (5.0, 5, 0.01, 4), (15.0, 16, 0.032, 4), (20.0, 21, 0.042, 4),
                (25.0, 40, 0.08, 4), (90.0, 90, 0.5, 1)], mean_output_pieces=30.0)
    r["ours_decode_beam1_fp32"]["search_flops_per_s"] = 3e10  # 2e9 a sentence at 15 sent/s
    for b in (1, 5):
        r[f"ours_decode_beam{b}_int8"] = m(sentences_per_s=45.0 / b)
    for b, plain, kept in ((1, 16.0, 15.2), (5, 4.0, 3.0)):  # attention kept, or not
        r[f"plain_decode_beam{b}"] = m(sentences_per_s=plain)
        r[f"attention_decode_beam{b}"] = m(sentences_per_s=kept)
    bench_run.report(r, tmp_path)
    ratios = json.loads((tmp_path / "results.json").read_text())["ratios"]
    assert ratios["train_ratio_same_math"] == 2.5 and ratios["train_ratio_paper"] == 4.0
    assert ratios["decode_ratio_beam5"] == 1.5 and ratios["decode_ratio_greedy"] == 3.0
    assert ratios["decode_ratio_beam5_fp32"] == 0.75 and ratios["decode_ratio_greedy_fp32"] == 1.5
    assert ratios["rss_ratio_train"] == ratios["rss_ratio_decode"] == 1.0
    assert ratios["mfu"] == 0.3 and ratios["mfu_fp32"] == 0.6
    assert ratios["mfu_same_math"] == 0.4  # fp32 and bf16 tie at 250 tok/s: fp32 is taken
    text = (tmp_path / "results.md").read_text()
    assert "| training, same model" in text and "1-10: 10.0" in text and "21-40: 80.0" in text
    assert "Commit abc1234" in text and "decoding, beam 5 (bf16)" in text
    assert "| decoding, beam 5 (int8) | 9.0 sent/s | 4.0 sent/s | 2.25 |" in text
    assert "From beam 2 on, linear, as expected" in text  # time exactly proportional to beam
    assert "over the 4 full batches of 4 sentences" in text  # the 1-sentence batch left out
    assert "longest source, linear, as expected" in text
    # 2 x Joey's 100 tok/s at our 4e10 FLOP/s per 250 tok/s: 32 GFLOP/s of a 1e11 peak
    assert "would take 32 GFLOP/s" in text and "32% of the measured matmul peak" in text
    # 3 x Joey's 10 greedy sentences/s at 2e9 FLOP each: 60 GFLOP/s; ours 3e10 of 1e11
    assert "greedy decoding (fp32) would take 60 GFLOP/s" in text and "60% of the" in text
    assert "ours runs at 30% of it, Joey's at about 20%" in text and "31.0 pieces" in text
    assert ratios["mfu_greedy_fp32"] == 0.3
    assert ("greedy 15.2 against 16.0 sent/s (0.95); beam 5 3.0 against 4.0 sent/s (0.75)"
            in text)
    means = [5.0, 15.0, 20.0, 25.0]  # against the mean, the long-tailed batch breaks the line
    assert bench_run.linear_fit(means, [10, 32, 42, 80]).startswith("NOT linear")


def test_the_report_on_a_cpu_without_bf16(tmp_path):
    """fp32 alone: every ratio and row from the fp32 measurements."""
    def m(**kw):
        return {"peak_rss_mb": 400.0, **kw}
    groups = [(5.0, 5, 0.01, 4), (15.0, 15, 0.02, 4), (25.0, 25, 0.03, 4)]
    r = {"machine": "avx2", "commit": "abc1234", "date": "today", "wall_min": 7.5,
         "joey_train": m(tokens_per_s=100.0), "matmul_fp32": m(flops_per_s=1e11),
         "joey_decode_beam1": m(sentences_per_s=10.0, mean_output_pieces=31.0),
         "joey_decode_beam5": m(sentences_per_s=4.0),
         "ours_train_same_fp32": m(tokens_per_s=150.0, flops_per_s=3e10),
         "ours_train_paper_fp32": m(tokens_per_s=300.0, flops_per_s=5e10)}
    for n in bench_run.SCALING_SENTENCES:
        r[f"ours_train_paper_fp32_{n}"] = m(tokens_per_s=float(n))
    for b in (1, 2, 5, 12):
        r[f"ours_decode_beam{b}_fp32"] = m(sentences_per_s=20.0 / b, groups=groups,
                                           mean_output_pieces=30.0)
    r["ours_decode_beam1_fp32"]["search_flops_per_s"] = 4e10
    bench_run.report(r, tmp_path)
    ratios = json.loads((tmp_path / "results.json").read_text())["ratios"]
    assert ratios["train_ratio_same_math"] == 1.5 and ratios["train_ratio_paper"] == 3.0
    assert ratios["decode_ratio_beam5"] == 1.0 and ratios["mfu"] == 0.5
    text = (tmp_path / "results.md").read_text()
    assert "paper model (fp32)" in text and "bf16" not in text.replace("no native bf16", "")


def test_linear_fit_tells_a_line_from_a_curve():
    assert bench_run.linear_fit([1, 2, 3, 4], [3, 5, 7, 9]).startswith("linear")
    assert bench_run.linear_fit([1, 2, 3, 4], [1, 1, 1, 30]).startswith("NOT linear")
    assert bench_run.linear_fit([1, 2], [1, 2]).startswith("too few")


def test_paper_size_measures_training_and_search(tmp_path):
    """bench/paper_size.py (the paper's config, shrunk here) reports speeds and days."""
    out = subprocess.run([sys.executable, str(BENCH / "paper_size.py"), "--sentences", "2",
                          "--steps", "1", "--decode-sentences", "2", "model.hidden_dim=8",
                          "model.emb_dim=8", "model.layers=1"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout)
    assert r["train_fp32"]["tokens_per_s"] > 0
    assert ("train_bf16" in r) == (FAST == "bf16")  # bf16 measured where the CPU has it
    assert r["decode_beam12"]["sentences_per_s"] > 0 and r["decode_beam12"]["precision"] == FAST
    # the paper's "about ten days": 7.5 epochs of 360M target tokens at its French share
    assert r["paper_days_on_8_gpus"] == pytest.approx(7.5 * 360e6 / (6300 * 348 / 652) / 86400)
    assert 9 < r["paper_days_on_8_gpus"] < 11
    assert "days on this device" in paper_size.summary(r)


def test_best_of_alternates_and_keeps_each_sides_fastest(monkeypatch):
    order = []
    speeds = {"joey": iter([10.0, 30.0]), "ours": iter([20.0, 15.0])}

    def fake_measure(python, worker, *args):
        order.append(python)
        return {"tokens_per_s": next(speeds[python]), "peak_rss_mb": 100.0 + len(order)}
    monkeypatch.setattr(bench_run, "measure", fake_measure)
    best = bench_run.best_of({"j": ("joey", "w.py"), "o": ("ours", "w.py")}, rounds=2)
    assert order == ["joey", "ours", "ours", "joey"]  # the second round runs backwards
    assert best["j"]["tokens_per_s"] == 30.0 and best["j"]["rounds"] == [10.0, 30.0]
    assert best["o"]["tokens_per_s"] == 20.0 and best["o"]["rounds"] == [20.0, 15.0]
    assert best["j"]["peak_rss_mb"] == 104.0 and best["o"]["peak_rss_mb"] == 103.0


@pytest.mark.slow  # 30 s: eight processes (make test-all)
@pytest.mark.parametrize("isa", ["native", "avx2"])
def test_precision_bench_measures_each_precision_and_scores_it(task_runs, tmp_path, isa):
    """bench/precision.py on a tiny run: a row per precision and beam, each with its speed,
    ratio to fp32, peak RSS and BLEU and chrF with their signatures; natively and with
    the kernels capped at AVX2."""
    from conftest import corpus_lines, write_lines
    src = write_lines(tmp_path / "test.es", corpus_lines("test", "es", 6))
    ref = write_lines(tmp_path / "test.en", corpus_lines("test", "en", 6))
    precisions = ["fp32", "int8"] + (["bf16"] if FAST == "bf16" and isa == "native" else [])
    run = str(task_runs["translation"])
    out = subprocess.run([sys.executable, str(BENCH / "precision.py"), run,
                          "--src", str(src), "--ref", str(ref), "--rounds", "1", "--beams", "1",
                          "2", "--precisions", *precisions, "--out", str(tmp_path / "r.json"),
                          *(["--isa", isa] if isa != "native" else [])],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads((tmp_path / "r.json").read_text())[run]
    assert r["weights"]["int8_bytes"] < r["weights"]["fp32_bytes"] and r["isa"] == isa
    for precision in precisions:
        for beam in (1, 2):
            row = r[f"{precision} beam {beam}"]
            assert row["sentences_per_s"] > 0 and row["peak_rss_mb"] > 0
            assert row["bleu_signature"].startswith("nrefs:1") and "chrf" in row
    assert r["fp32 beam 2"]["ratio_to_fp32"] == 1.0


@pytest.mark.slow  # 20 s: a server and two commands (make test-all)
def test_serve_load_reports_speeds_latencies_and_rss(task_runs, tmp_path):
    """bench/serve_load.py, briefly: 2 clients for two windows of 2 seconds after 1 of
    warm-up, each window between two runs of seq2seq-translate."""
    from conftest import corpus_lines, write_lines
    src = write_lines(tmp_path / "test.es", corpus_lines("test", "es", 8))
    out = subprocess.run([sys.executable, str(BENCH / "serve_load.py"),
                          str(task_runs["translation"]), "--input", str(src), "--clients", "2",
                          "--seconds", "2", "--rounds", "2", "--warmup", "1",
                          "--cli-sentences", "16", "--port", "18765"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout)
    assert r["failed"] == 0 and r["requests"] > 0 and r["mean_batch"] >= 1
    assert r["sentences_per_s"] > 0 and len(r["windows"]) == 2
    first, second = r["windows"]
    assert first["cli_sentences_per_s"][1] == second["cli_sentences_per_s"][0]  # shared run
    assert r["ratio_to_cli"] == (first["ratio_to_cli"] + second["ratio_to_cli"]) / 2
    assert len(r["cli_search_sentences_per_s"]) == 2  # 8 sentences: within the noise
    assert r["latency_ms"]["p50"] <= r["latency_ms"]["p99"]
    assert len(r["rss_mb"]["each_second"]) >= 2
