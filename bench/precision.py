"""Decoding precisions on trained runs: sentences/s, BLEU and chrF (sacrebleu, with
signatures) and peak RSS of fp32, bf16 and int8 search, greedy and beam 5.

    python bench/precision.py runs/demo runs/attention --src data/bible-es-en/test.es.xz \
        --ref data/bible-es-en/test.en.xz [--rounds 3] [--out bench/results_precision.json] \
        [--isa avx2]

Speed is the search's, with the model loaded: one worker process per precision, each
holding the file sorted into batches of 64 as seq2seq-translate sorts it; batch by batch,
every worker searches it in turn (their order alternating, one at a time), `--rounds`
times, and a precision's time is the sum over batches of its best round. So the machine's
drift (this one's speed moves by a third from minute to minute) falls on every precision
alike, and no precision runs in a process another has warmed (bf16's autocast caches,
oneDNN's). Peak RSS: each worker's, after its searches. Prints one JSON object (and
writes it to --out).

`--isa avx2`: the workers run as on a CPU with AVX2 only (no AVX-512, no VNNI): each
library's own switch caps the kernels it picks (fbgemm's FBGEMM_ENABLE_INSTRUCTIONS, oneDNN's
ONEDNN_MAX_CPU_ISA, MKL's MKL_ENABLE_INSTRUCTIONS, ATen's ATEN_CPU_CAPABILITY), and int8
search then keeps 7-bit activations as it does on such a CPU (int8.vnni()). The same cores
and caches: it measures the kernels, not another machine.
"""
from __future__ import annotations

import argparse
import json
import lzma
import os
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
    """Loads the run in `precision`, then searches the batch whose index each stdin line
    names, printing its seconds; at end of input writes the translations to `hyp` and
    prints its peak RSS."""
    import seq2seq
    import torch
    from seq2seq.data.sources import Source
    from seq2seq.tasks.translation.translator import search_batch
    t = seq2seq.load(run, device="cpu", precision=precision)
    decode, source = t.settings(beam), lines(src)
    ids = t.tokenizer.encode_source(source)
    order = sorted(range(len(ids)), key=lambda j: len(ids[j]))
    chunks = [order[i:i + 64] for i in range(0, len(order), 64)]
    out = [""] * len(source)
    with torch.inference_mode():  # packs int8 / oneDNN weights, as the first batch would
        search_batch(t.model, Source.of_ids(ids[:2]), decode, t.device, precision)
        print(len(chunks), flush=True)
        for line in sys.stdin:
            chunk = chunks[int(line)]
            batch = Source.of_ids([ids[j] for j in chunk])
            start = time.perf_counter()
            hyps = search_batch(t.model, batch, decode, t.device, precision)
            print(time.perf_counter() - start, flush=True)
            for j, text in zip(chunk, t.tokenizer.decode_target([h[0].ids for h in hyps])):
                out[j] = text
    hyp.write_text("".join(o + "\n" for o in out), encoding="utf-8")
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, flush=True)


ISA = {"avx2": {"FBGEMM_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2",
               "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}}


def measure(run: str, precisions: list[str], beam: int, src: Path, rounds: int, tmp: Path,
            isa: str | None = None) -> dict:
    """{precision: (sentences/s, peak RSS MB)}, the workers taking turns batch by batch;
    each writes its translations to tmp/<precision>.<beam>.hyp."""
    workers = {p: subprocess.Popen(
        [sys.executable, __file__, "--worker", run, "--precision", p, "--beam", str(beam),
         "--src", str(src), "--hyp", str(tmp / f"{p}.{beam}.hyp")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, **ISA.get(isa, {})}) for p in precisions}
    batches = {int(w.stdout.readline()) for w in workers.values()}.pop()
    seconds = dict.fromkeys(precisions, 0.0)
    for b in range(batches):
        best = dict.fromkeys(precisions, float("inf"))
        for r in range(rounds):
            for p in (precisions if (b + r) % 2 == 0 else precisions[::-1]):
                workers[p].stdin.write(f"{b}\n")
                workers[p].stdin.flush()
                best[p] = min(best[p], float(workers[p].stdout.readline()))
        for p in precisions:
            seconds[p] += best[p]
    sentences = len(lines(src))
    out = {}
    for p, w in workers.items():
        w.stdin.close()
        out[p] = (sentences / seconds[p], float(w.stdout.readline()))
        if w.wait() != 0:
            raise SystemExit(f"the {p} worker failed")
    return out


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
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", type=Path)
    p.add_argument("--isa", choices=sorted(ISA), help="the workers' kernels capped at this ISA")
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
                got = measure(run, args.precisions, beam, args.src, args.rounds, Path(tmp),
                              args.isa)
                for precision, (speed, rss) in got.items():
                    hyp = Path(tmp) / f"{precision}.{beam}.hyp"
                    rows[f"{precision} beam {beam}"] = {
                        "sentences_per_s": round(speed, 1),
                        "ratio_to_fp32": round(speed / got["fp32"][0], 3),
                        "peak_rss_mb": round(rss),
                        **(scores(hyp, args.ref) if args.ref else {})}
            results[run] = {"weights": weight_sizes(run), "rounds": args.rounds,
                            "isa": args.isa or "native", **rows}
    text = json.dumps(results, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
