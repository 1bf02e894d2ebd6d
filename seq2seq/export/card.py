"""An export's README.md: a Hugging Face model card (a YAML header the hub reads: library,
task, languages, licence of the data, metrics; then prose), written from what the run
itself recorded, never typed: the dev scores of the evaluation the exported checkpoint was
chosen at (metrics.jsonl, with their sacrebleu signatures or the metric's name), the test
scores seq2seq-score wrote (translations/test*.score), the steps, epochs, time, device and
precision of training (the checkpoint, train.log).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from seq2seq.tasks import task_class

# the bundled datasets' licences (data/*/README.md), by data.name, as the hub names them
# (license, and license_name where it is "other"); any other data: --license
DATA_LICENSES = {"bible-es-en": ("other", "public-domain"), "bible-en": ("other", "public-domain"),
                 "emoji-captions": ("other", "mit-and-apache-2.0"),
                 "sentiment-movies": ("mit", None), "sentiment-uci": ("mit", None),
                 "ud-ewt": ("cc-by-sa-4.0", None), "uner-ewt": ("cc-by-sa-4.0", None)}
PIPELINES = {"translation": "translation", "captioning": "image-to-text",
             "classification": "text-classification", "tagging": "token-classification",
             "language_model": "text-generation"}
SCORE_LINE = re.compile(r"^(?P<name>[\w-]+) = (?P<value>-?[\d.]+)(?: \((?P<sig>[^)]*)\))?")


def dev_scores(run_root: Path, step: int) -> tuple[int, dict[str, tuple[float, str]]]:
    """The evaluation at `step` (else the last one before it) of metrics.jsonl: (its step,
    {metric: (value, signature or "")})."""
    path = run_root / "metrics.jsonl"
    found: tuple[int, dict] = (0, {})
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            scores = {k[4:]: (v, record.get(k + "_signature", "")) for k, v in record.items()
                      if k.startswith("dev_") and not k.endswith("_signature")}
            if scores and record.get("step", 0) <= step:
                found = (record["step"], scores)
    return found


def test_scores(run_root: Path) -> list[tuple[str, str, float, str]]:
    """(file, metric, value, signature) of each line seq2seq-score wrote for a test set."""
    out = []
    for path in sorted((run_root / "translations").glob("test*.score")):
        for line in path.read_text(encoding="utf-8").splitlines():
            m = SCORE_LINE.match(line.strip())
            if m:
                out.append((path.name, m["name"], float(m["value"]), m["sig"] or ""))
    return out


def hardware(run_root: Path) -> str:
    """The device and precision train.log says the run trained on."""
    log = run_root / "train.log"
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    m = re.search(r"device (\S+), (\S+)", text)
    return f"{m[1]}, {m[2]}" if m else "not recorded"


def model_card(sources: list, name: str, averaged: bool = False,
               license_id: str | None = None) -> str:
    """The card of an export of `sources` (write.Source: the runs, in order)."""
    first = sources[0]
    cfg, task = first.cfg, first.cfg.task
    step, dev = dev_scores(first.run.root, first.payload.get("step", 0))
    tests = test_scores(first.run.root)
    data = cfg.data
    languages = [lang for lang in (getattr(data, "src_lang", None), getattr(data, "tgt_lang",
                                                                             None)) if lang]
    header = {"library_name": "seq2seq", "pipeline_tag": PIPELINES.get(task, task),
              "tags": ["seq2seq", "lstm", task], **({"language": languages} if languages else {}),
              **licence(data.name, license_id),
              "datasets": [data.name],
              "model-index": [{"name": name, "results": [{
                  "task": {"type": PIPELINES.get(task, task), "name": task},
                  "dataset": {"name": data.name, "type": data.name, "split": "dev"},
                  "metrics": [{"type": k, "value": round(v, 4), "name": f"dev {k}",
                               **({"config": sig} if sig else {})}
                              for k, (v, sig) in dev.items()]}]}]}
    what = ("an ensemble of " + str(len(sources)) + " runs" if len(sources) > 1 and not averaged
            else "the mean of the weights of " + str(len(sources)) + " runs" if averaged
            else "one run")
    lines = ["---", yaml.safe_dump(header, sort_keys=False, allow_unicode=True).rstrip(), "---",
             "", f"# {name}", "",
             f"A seq2seq {task} model ({what}; model: encoder `{cfg.model.encoder.build}`, "
             f"decoder `{cfg.model.decoder.build}`), exported by seq2seq-export.", "",
             "## Scores (measured by the run)", ""]
    lines += [f"- dev {k} = {v:.4f}" + (f" ({sig})" if sig else "") for k, (v, sig) in
              dev.items()] or ["- no evaluation recorded"]
    if dev:
        lines.append(f"  (the evaluation at step {step}, the exported checkpoint's)")
    lines += [f"- test {metric} = {value:g}" + (f" ({sig})" if sig else "") + f" ({file})"
              for file, metric, value, sig in tests]
    lines += ["", "## Training", ""] + [training_line(s) for s in sources]
    lines += ["", "## Use", "", "```sh", "pip install seq2seq",
              f"{task_class(task).command} {name} ...     # as with a run directory",
              "```", "", "```python", "import seq2seq",
              f'model = seq2seq.load("{name}")   # or "hf://OWNER/{name}"', "```", ""]
    return "\n".join(lines)


def licence(data_name: str, given: str | None) -> dict:
    """The card's licence keys: `given`, else the bundled data's, else other / unknown."""
    if given:
        return {"license": given}
    key, name = DATA_LICENSES.get(data_name, ("other", "unknown"))
    return {"license": key, **({"license_name": name} if name else {})}


def training_line(source) -> str:
    p, data = source.payload, source.cfg.data
    limit = getattr(data, "max_train_sentences", None)
    return (f"- {source.path}: data `{data.name}`" + (f" (first {limit})" if limit else "")
            + f", {p.get('step', '?')} steps, {float(p.get('epoch', 0)):.2f} epochs, "
            f"{float(p.get('elapsed', 0)) / 60:.1f} min of training on "
            f"{hardware(source.run.root)}; seed {source.cfg.trainer.seed}")
