"""The tables of `make bench-scale` (bench/scale.py): bench/results_scale.{json,md}, and
the same section in bench/results.md between its markers."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

MB = 1 << 20
START, END = "<!-- scale: start -->", "<!-- scale: end -->"
PAPER = {"12M pairs (the paper)": 12_000_000, "40.8M pairs (WMT'14 fr-en on the hub)": 40_836_715}


def _slope(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares (slope, intercept) of y against x."""
    x, y = np.array(points, dtype=float).T
    slope, intercept = np.polyfit(x, y, 1)
    return float(slope), float(intercept)


def growth(results: dict) -> dict:
    """How each measure grows with the number of pairs (per million pairs)."""
    rows = [(results["bundled"]["prepare"]["pairs"], results["bundled"])]
    rows += [(r["prepare"]["pairs"], r) for r in results["corpora"].values()]
    big = [(n, r) for n, r in rows[1:]]
    per_m = lambda pts: _slope([(n / 1e6, v) for n, v in pts])  # noqa: E731
    anon, anon0 = per_m([(n, r["train"]["anonymous"] / MB) for n, r in rows])
    anon_end, _ = per_m([(n, r["train"]["anonymous_end"] / MB) for n, r in rows])
    prep, prep0 = per_m([(n, r["prepare"]["seconds"]) for n, r in big]) if len(big) > 1 \
        else (big[0][1]["prepare"]["seconds"] / (big[0][0] / 1e6), 0.0)
    tokens_per_pair = np.mean([r["prepare"]["tokens"] / n for n, r in big])
    bytes_per_token = np.mean([r["prepare"]["bytes_per_token"] for _, r in big])
    return {**_ranks(results), "anonymous_mb_per_m": anon, "anonymous_mb_at_0": anon0,
            "anonymous_end_mb_per_m": anon_end,
            "prepare_s_per_m": prep, "prepare_s_at_0": prep0,
            "tokens_per_pair": float(tokens_per_pair), "bytes_per_token": float(bytes_per_token)}


def _ranks(results: dict) -> dict:
    """Private memory of several ranks on the largest corpus, against one rank's plus the
    model's (weights and gradients, fp32), and what the corpus adds to each."""
    b = results["bundled"]
    n, last = max(results["corpora"].items(), key=lambda kv: int(kv[0]))
    if "train_ranks" not in last or "train_ranks" not in b:
        return {}
    one, many = last["train"], last["train_ranks"]
    model = 8 * one["parameters"]
    return {"ranks_pairs": int(n), "ranks_private_mb": many["anonymous"] / MB,
            "ranks_over_one_plus_model": many["anonymous"] / (one["anonymous"] + model),
            "ranks_corpus_mb": (many["anonymous"] - b["train_ranks"]["anonymous"]) / MB,
            "one_rank_corpus_mb": (one["anonymous"] - b["train"]["anonymous"]) / MB}


def _train_row(name: str, t: dict, base: dict) -> str:
    return (f"| {name} | {t['ranks']} | {t['peak_rss'] / MB:,.0f} | {t['anonymous'] / MB:,.0f} / "
            f"{t['anonymous_end'] / MB:,.0f} | "
            f"{t['tokens_rss'] / MB:,.0f} / {t['tokens_pss'] / MB:,.0f} | "
            f"{t['first_step_s']:.1f} | {t['steps_per_s']:.2f} "
            f"({t['steps_per_s'] / base['steps_per_s']:.2f}) | {t['tokens_per_s']:,.0f} "
            f"({t['tokens_per_s'] / base['tokens_per_s']:.2f}) | {t['data_wait_pct']:.2f}% |")


def markdown(results: dict, commit: str) -> str:
    g, b = growth(results), results["bundled"]
    lines = [f"Commit {commit}; {results['steps']} training steps of the demo model (fp32) "
             "per measurement; memory sampled from /proc every 0.5 s.", "",
             "| corpus | pairs kept | tokens | prepare | per stage (s) | prepare peak RSS MB "
             "| bytes/token on disk |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in [("bundled", b), *results["corpora"].items()]:
        p = r["prepare"]
        stages = ", ".join(f"{k} {v:.0f}" for k, v in p["stages"].items())
        lines.append(f"| {name} | {p['pairs']:,} | {p['tokens']:,} | {p['seconds'] / 60:.1f} min "
                     f"| {stages} | {p['peak_rss'] / MB:,.0f} | {p['bytes_per_token']:.2f} |")
    lines += ["", "| corpus | ranks | peak RSS MB | private (anonymous) MB, peak / at the end "
              "| token pages "
              "RSS / PSS MB | start to step 1 (s) | steps/s (x bundled) | tgt tokens/s "
              "(x bundled) | data wait |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
              *(_train_row("bundled", t, b["train"]) for t in b["train_runs"])]
    if "train_ranks" in b:
        lines.append(_train_row("bundled", b["train_ranks"], b["train"]))
    for name, r in results["corpora"].items():
        lines.append(_train_row(str(name), r["train"], b["train"]))
        if "train_ranks" in r:
            lines.append(_train_row(str(name), r["train_ranks"], b["train"]))
    lines += ["", f"Growth with N (least squares over the corpora): private memory "
              f"{g['anonymous_mb_per_m']:+.1f} MB per million pairs at its peak, "
              f"{g['anonymous_end_mb_per_m']:+.1f} at the end; preparation "
              f"{g['prepare_s_per_m']:.0f} s per million pairs beyond a fixed "
              f"{g['prepare_s_at_0']:.0f} s (sentencepiece's sample is capped at "
              f"tokenizer.input_sentence_size); {g['tokens_per_pair']:.1f} tokens a pair at "
              f"{g['bytes_per_token']:.2f} bytes each on disk."]
    if "ranks_pairs" in g:
        lines += ["", f"Ranks at {g['ranks_pairs']:,} pairs: private memory together "
                  f"{g['ranks_private_mb']:,.0f} MB, {g['ranks_over_one_plus_model']:.2f}x one "
                  "rank's plus the model's; each process has its own runtime (torch, Python, "
                  "allocator), so the corpus's part is the measure: the ranks hold "
                  f"{g['ranks_corpus_mb']:+,.0f} MB more than the same ranks on the bundled "
                  f"corpus, one rank {g['one_rank_corpus_mb']:+,.0f} MB more."]
    return "\n".join(lines + ["", *extrapolated(g, ranks=8)])


def extrapolated(g: dict, ranks: int) -> list[str]:
    """The measured slopes carried to the paper's corpus sizes (this corpus's tokens a pair)."""
    out = [f"Carried to the paper's sizes with {ranks} ranks (same tokens a pair and bytes a "
           "token as measured; the paper's word vocabularies need int32 ids, about 1.7x the bytes):",
           "", "| corpus | private MB per rank (peak) | all ranks | token files on disk "
           "(one copy, shared) | prepare on 2 cores |", "| --- | --- | --- | --- | --- |"]
    for name, n in PAPER.items():
        per_rank = g["anonymous_mb_at_0"] + g["anonymous_mb_per_m"] * n / 1e6
        disk = g["tokens_per_pair"] * n * g["bytes_per_token"] / 1e9
        minutes = (g["prepare_s_at_0"] + g["prepare_s_per_m"] * n / 1e6) / 60
        out.append(f"| {name} | {per_rank:,.0f} | {ranks * per_rank:,.0f} | {disk:.1f} GB | "
                   f"{minutes:.0f} min |")
    return out


def write_report(results: dict, here: Path) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=here).stdout.strip()
    results["growth"] = growth(results)
    (here / "results_scale.json").write_text(json.dumps(results, indent=1) + "\n")
    text = markdown(results, commit)
    (here / "results_scale.md").write_text("# make bench-scale\n\n" + text + "\n")
    main = here / "results.md"
    old = main.read_text() if main.is_file() else ""
    section = f"{START}\n## At scale (make bench-scale)\n\n{text}\n{END}"
    if START in old:
        old = old[:old.index(START)] + section + old[old.index(END) + len(END):]
    else:
        old = old.rstrip() + "\n\n" + section + "\n"
    main.write_text(old)
    print(text)
