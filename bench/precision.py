"""Decoding precisions on trained runs: sentences/s, BLEU and chrF (sacrebleu, with
signatures) and peak RSS of fp32, bf16 and int8 search, greedy and beam 5, each
measurement in its own process, the precisions alternating so that the machine's drift
falls on all of them alike.

    python bench/precision.py runs/demo runs/attention --src data/bible-es-en/test.es.xz \
        --ref data/bible-es-en/test.en.xz [--rounds 2] [--out bench/results_precision.json]

Speed is the search's (Translator.hypotheses on the whole file, sorted into batches of 64
as seq2seq-translate does), the model already loaded; a precision's best round is kept.
Prints one JSON object (and writes it to --out).
"""
from __future__ import annotations

import argparse
import json
import lzma
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def lines(path: Path) -> list[str]:
    opener = lzma.open if path.suffix == ".xz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return f.read().splitlines()


def worker(run: str, precision: str, beam: int, src: Path, hyp: Path) -> None:
    import seq2seq
    import torch
    start = time.perf_counter()
    t = seq2seq.load(run, device="cpu", precision=precision)
    loaded = time.perf_counter() - start
    source = lines(src)
    with torch.inference_mode():  # packs int8 / oneDNN weights, as the first batch would
        t.translate(source[:2], beam)
    start = time.perf_counter()
    out = t.translate(source, beam)
    seconds = time.perf_counter() - start
    hyp.write_text("".join(o + "\n" for o in out), encoding="utf-8")
    print(json.dumps({"sentences_per_s": len(source) / seconds, "load_s": loaded,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def measure(run: str, precision: str, beam: int, src: Path, hyp: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "--worker", run, "--precision", precision,
                           "--beam", str(beam), "--src", str(src), "--hyp", str(hyp)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def scores(hyp: Path, ref: Path) -> dict:
    from sacrebleu.metrics import BLEU, CHRF
    hyps, refs = lines(hyp), lines(ref)
    out = {}
    for name, metric in (("bleu", BLEU()), ("chrf", CHRF())):
        result = metric.corpus_score(hyps, [refs])
        out[name], out[name + "_signature"] = round(result.score, 2), str(metric.get_signature())
    return out


def weight_sizes(run: str) -> dict:
    """Bytes of weights: fp32 as on disk (an export's model.safetensors holds these); int8:
    the matrices at one byte each (embeddings and vectors fp32), as int8 search holds them
    (plus a scale per row, not counted)."""
    import torch
    import seq2seq
    t = seq2seq.load(run, device="cpu")
    quantised = fp32 = 0
    for name, p in t.model.named_parameters():
        quantised += p.numel() if p.dim() == 2 and "embed" not in name else 0
        fp32 += p.numel()
    return {"fp32_bytes": fp32 * 4, "int8_bytes": (fp32 - quantised) * 4 + quantised,
            "torch": torch.__version__}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("runs", nargs="+")
    p.add_argument("--src", type=Path, required=True)
    p.add_argument("--ref", type=Path)
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16", "int8"])
    p.add_argument("--beams", nargs="+", type=int, default=[1, 5])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", type=Path)
    p.add_argument("--worker", action="store_true")
    p.add_argument("--precision")
    p.add_argument("--beam", type=int)
    p.add_argument("--hyp", type=Path)
    args = p.parse_args()
    if args.worker:
        return worker(args.runs[0], args.precision, args.beam, args.src, args.hyp)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for run in args.runs:
            rows = {}
            for beam in args.beams:
                for _ in range(args.rounds):
                    for precision in args.precisions:
                        hyp = Path(tmp) / f"{precision}.{beam}.hyp"
                        got = measure(run, precision, beam, args.src, hyp)
                        key = f"{precision} beam {beam}"
                        if key not in rows or got["sentences_per_s"] > rows[key]["sentences_per_s"]:
                            rows[key] = {**got, **(scores(hyp, args.ref) if args.ref else {})}
                for precision in args.precisions:
                    rows[f"{precision} beam {beam}"]["ratio_to_fp32"] = round(
                        rows[f"{precision} beam {beam}"]["sentences_per_s"]
                        / rows[f"fp32 beam {beam}"]["sentences_per_s"], 3)
            results[run] = {"weights": weight_sizes(run), **rows}
    text = json.dumps(results, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
