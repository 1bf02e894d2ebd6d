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
    prep, prep0 = per_m([(n, r["prepare"]["seconds"]) for n, r in big]) if len(big) > 1 \
        else (big[0][1]["prepare"]["seconds"] / (big[0][0] / 1e6), 0.0)
    tokens_per_pair = np.mean([r["prepare"]["tokens"] / n for n, r in big])
    bytes_per_token = np.mean([r["prepare"]["bytes_per_token"] for _, r in big])
    return {"anonymous_mb_per_m": anon, "anonymous_mb_at_0": anon0,
            "prepare_s_per_m": prep, "prepare_s_at_0": prep0,
            "tokens_per_pair": float(tokens_per_pair), "bytes_per_token": float(bytes_per_token)}


def _train_row(name: str, t: dict, base: dict) -> str:
    return (f"| {name} | {t['ranks']} | {t['peak_rss'] / MB:,.0f} | {t['anonymous'] / MB:,.0f} | "
            f"{t['tokens_rss'] / MB:,.0f} / {t['tokens_pss'] / MB:,.0f} | "
            f"{t['first_step_s']:.1f} | {t['steps_per_s']:.2f} "
            f"({t['steps_per_s'] / base['steps_per_s']:.2f}) | {t['data_wait_pct']:.2f}% |")


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
    lines += ["", "| corpus | ranks | peak RSS MB | private (anonymous) MB | token pages "
              "RSS / PSS MB | start to step 1 (s) | steps/s (x bundled) | data wait |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |",
              _train_row("bundled", b["train"], b["train"])]
    for name, r in results["corpora"].items():
        lines.append(_train_row(str(name), r["train"], b["train"]))
        if "train_ranks" in r:
            lines.append(_train_row(str(name), r["train_ranks"], b["train"]))
    lines += ["", f"Growth with N (least squares over the corpora): private memory "
              f"{g['anonymous_mb_per_m']:+.1f} MB per million pairs; preparation "
              f"{g['prepare_s_per_m']:.0f} s per million pairs beyond a fixed "
              f"{g['prepare_s_at_0']:.0f} s (sentencepiece's sample is capped at "
              f"tokenizer.input_sentence_size); {g['tokens_per_pair']:.1f} tokens a pair at "
              f"{g['bytes_per_token']:.2f} bytes each on disk."]
    return "\n".join(lines)


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
