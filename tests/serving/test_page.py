"""seq2seq-serve's web page in a real browser (Debian's chromium, driven by Playwright): for
each task the page, filled in as a user would, shows what the task's CLI prints for the
same input, and for attention models the heat map and the caption panels hold the
weights the Python API gives. Skipped, with one line saying what to install, where no
browser is."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

import seq2seq
from seq2seq.cli.serve import build, parse_args
from seq2seq.config.compose import load_config
from seq2seq.models.encoder_decoder import build_model
from seq2seq.serving.background import serving
from seq2seq.tasks.captioning.cli import main as caption_main
from seq2seq.tasks.captioning.encoders import ImageShape, build_caption_model
from seq2seq.tasks.classification.cli import main as classify_main
from seq2seq.tasks.tagging.cli import main as tag_main
from seq2seq.tasks.translation.cli import main as translate_main

from conftest import corpus_lines, run_main, save_run

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None
pytestmark = pytest.mark.skipif(
    BROWSER is None or sync_playwright is None,
    reason="no browser for the page test: apt-get install chromium; pip install playwright")


def sharpened(model: torch.nn.Module, scale: float) -> torch.nn.Module:
    """Weights wider than the 0.08 init: random outputs of several different words."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not name.startswith("encoder.backbone"):
                p.uniform_(-scale, scale)
    return model


@pytest.fixture(scope="module")
def runs(task_runs, tokenizer, tmp_path_factory) -> dict:
    """An attention translator and an attention captioner (random), the shared classifier
    and tagger, and an image."""
    root = tmp_path_factory.mktemp("page-runs")
    torch.manual_seed(0)
    cfg = load_config(["debug=smoke", "decode.beam_size=3", "decode.max_len_a=0.8",
                       "model/decoder=attention"])
    tr = sharpened(build_model(cfg.model, tokenizer.src_vocab_size, tokenizer.tgt_vocab_size),
                   0.6)
    cfg_cap = load_config([
        "experiment=digits_image", "debug=smoke", "model.emb_dim=8", "model.hidden_dim=8",
        "model.layers=1", "data.image_height=16", "data.image_width=16",
        "model.encoder.cnn_width=4", "model.encoder.cnn_blocks=2", "decode.beam_size=3",
        "decode.max_len_b=6", "model/decoder=attention"])
    d = cfg_cap.data
    cap = sharpened(build_caption_model(cfg_cap.model, ImageShape(
        d.image_channels, d.image_height, d.image_width), tokenizer.tgt_vocab_size), 0.5)
    with torch.no_grad():  # grid cells far apart: attention far from uniform
        cap.encoder.cells.weight.mul_(30)
    image = root / "image.png"
    pixels = np.random.default_rng(0).integers(110, 256, (20, 20), dtype=np.uint8)
    pixels[:10, :10] = 255  # a bright corner: cells that differ, attention far from uniform
    Image.fromarray(pixels).save(image)
    return {"tr": save_run(root / "tr", tokenizer, cfg, tr),
            "cap": save_run(root / "cap", tokenizer, cfg_cap, cap),
            "cls": task_runs["classification"], "pos": task_runs["tagging"], "image": image}


@pytest.fixture(scope="module")
def page(runs):
    names = ["tr", "cap", "cls", "pos"]
    args = parse_args([str(runs[n]) for n in names] + [a for n in names for a in ("--name", n)]
                      + ["--device", "cpu"])
    with serving(build(args)) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=BROWSER)
        tab = browser.new_page()
        errors = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        yield tab, url, errors
        browser.close()


def ask(page, url: str, run: str, texts: list[str] | None = None, image=None,
        **options) -> None:
    """Open the page on `run`, type `texts` (or choose `image`), set options, press run."""
    tab, base, errors = page
    tab.goto(f"{base}?run={run}")
    tab.wait_for_selector(f"#run option[value={run}]", state="attached")
    if texts is not None:
        tab.fill("#texts", "\n".join(texts))
    if image is not None:
        tab.set_input_files("#image", str(image))
    for key, value in options.items():
        tab.fill(f"#opt-{key}", str(value))
    tab.click("#go")
    tab.wait_for_selector("#status:text('answered'), #status.error")
    assert "answered" in tab.inner_text("#status"), tab.inner_text("#status")
    assert not errors, errors


def nbest_shown(tab) -> list[str]:
    """The page's n-best lists as seq2seq-translate --nbest prints them."""
    lines = []
    for i, item in enumerate(tab.query_selector_all(".item")):
        for answer in item.query_selector_all("li.answer"):
            text, score = (answer.query_selector(c).inner_text() for c in (".text", ".score"))
            lines.append(f"{i} ||| {text} ||| {score}")
    return lines


def test_translation_shows_the_cli_nbest_and_the_heat_map(page, runs):
    texts = corpus_lines("dev", "es", 3)
    ask(page, page[1], "tr", texts, beam_size=3, nbest=2)
    status, out, err = run_main(translate_main, [runs["tr"], "--beam-size", "3", "--nbest", "2"],
                                "\n".join(texts).encode() + b"\n")
    assert status == 0, err
    tab = page[0]
    assert nbest_shown(tab) == out.splitlines()
    translator = seq2seq.load(runs["tr"], device="cpu")
    hyps = translator.hypotheses(texts, translator.settings(3, 1), attention=True)
    for item, (src, tgt, matrix) in zip(tab.query_selector_all(".item"),
                                        translator.attention_maps(texts, hyps)):
        heads = [th.inner_text() for th in item.query_selector_all("table.heat thead th")]
        rows = [th.inner_text() for th in item.query_selector_all("table.heat tbody th")]
        assert heads[1:] == src and rows == tgt
        shown = [float(td.get_attribute("title"))
                 for td in item.query_selector_all("table.heat td")]
        assert shown == pytest.approx(matrix.flatten().tolist(), abs=1e-3)


def test_caption_shows_the_cli_nbest_and_a_panel_per_word(page, runs):
    ask(page, page[1], "cap", image=runs["image"], beam_size=3, nbest=2)
    status, out, err = run_main(caption_main, [runs["cap"], runs["image"], "--beam-size", "3",
                                               "--nbest", "2"])
    assert status == 0, err
    tab = page[0]
    assert nbest_shown(tab) == out.splitlines()
    captioner = seq2seq.load(runs["cap"], device="cpu")
    hyps = captioner.hypotheses([str(runs["image"])], captioner.settings(3, 1), attention=True)
    words, maps = captioner.word_maps(hyps[0][0])
    assert [f.inner_text() for f in tab.query_selector_all(".panels figcaption")] == words
    # each panel is the image dimmed where its word did not look: at each grid cell's
    # centre, the panel's brightness over the image's is 1 - 200/255 (1 - weight / max)
    h, w = maps.shape[1:]
    ratios = tab.evaluate("""([h, w]) => {
        const plain = document.createElement('canvas'); plain.width = plain.height = 96;
        const ctx = plain.getContext('2d'); ctx.imageSmoothingEnabled = false;
        ctx.drawImage(document.getElementById('preview'), 0, 0, 96, 96);
        const at = (c, x, y) => c.getContext('2d').getImageData(x, y, 1, 1).data[0];
        return [...document.querySelectorAll('.panels canvas')].map(panel => {
            const out = [];
            for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
                const x = Math.floor((j + 0.5) * 96 / w), y = Math.floor((i + 0.5) * 96 / h);
                const base = at(plain, x, y);
                out.push(base < 100 ? null : at(panel, x, y) / base);
            }
            return out;
        });
    }""", [h, w])
    assert len(ratios) == len(words)
    for shown, m in zip(ratios, maps.flatten(1)):
        want = 1 - 200 / 255 * (1 - m / m.max())
        pairs = [(r, x) for r, x in zip(shown, want.tolist()) if r is not None]
        assert len(pairs) >= h * w // 3
        assert [r for r, _ in pairs] == pytest.approx([x for _, x in pairs], abs=0.03)


def test_classification_and_tags_show_what_the_clis_print(page, runs):
    texts = ["A gorgeous, witty film .", "Dull and long ."]
    ask(page, page[1], "cls", texts)
    status, out, err = run_main(classify_main, [runs["cls"], "--probs"],
                                "\n".join(texts).encode() + b"\n")
    assert status == 0, err
    tab = page[0]
    labels = (runs["cls"] / "labels.txt").read_text().split()
    shown = []
    for item in tab.query_selector_all(".item"):
        probs = {tr.query_selector("td").inner_text(): tr.query_selector(".prob").inner_text()
                 for tr in item.query_selector_all("table.probs tr")}
        shown.append("\t".join([item.query_selector(".label b").inner_text(),
                                *(probs[label] for label in labels)]))
    assert shown == out.splitlines()

    ask(page, page[1], "pos", texts)
    status, out, err = run_main(tag_main, [runs["pos"]], "\n".join(texts).encode() + b"\n")
    assert status == 0, err
    shown = [" ".join(b.inner_text() for b in item.query_selector_all(".tag"))
             for item in tab.query_selector_all(".item")]
    assert shown == out.splitlines()


def test_an_error_is_shown_in_one_line(page):
    tab = page[0]
    tab.goto(f"{page[1]}?run=tr")
    tab.wait_for_selector("#run option[value=tr]", state="attached")
    tab.fill("#texts", "x" * 3000)
    tab.click("#go")
    tab.wait_for_selector("#status.error")
    assert tab.inner_text("#status") == "413: texts[0] has 3000 characters; at most 2000"


def test_the_readme_screenshots_script_draws_both_pages(runs, tmp_path):
    """docs/screenshots.py (make screenshots), on the random attention runs."""
    import subprocess
    import sys
    from pathlib import Path
    script = Path(__file__).parents[2] / "docs" / "screenshots.py"
    done = subprocess.run([sys.executable, script, "--translate", runs["tr"], "--caption",
                           runs["cap"], "--text", "Dios es amor .", "--image", runs["image"],
                           "--out", tmp_path], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("page-translate.png", "page-caption.png"):
        with Image.open(tmp_path / name) as shot:
            assert shot.width == 980 and shot.height >= 300, (name, shot.size)
