"""The README's screenshots of seq2seq-serve's page: a translation with its attention heat map
and an image's caption with its attention panels, taken in Debian's chromium (Playwright).

    python docs/screenshots.py --translate runs/attention --text "En el principio ..." \
        --caption recipes/emoji-captions/runs/attention --image apple.png --out docs/

writes OUT/page-translate.png and OUT/page-caption.png (`make screenshots`).
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from playwright.sync_api import sync_playwright

from seq2seq.cli.serve import build, parse_args as serve_args
from seq2seq.serving.background import serving


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--translate", type=Path, required=True, help="an attention translation run")
    p.add_argument("--text", action="append", required=True, help="a source sentence (repeat)")
    p.add_argument("--caption", type=Path, required=True, help="an attention captioning run")
    p.add_argument("--image", type=Path, required=True, help="an image to caption")
    p.add_argument("--out", type=Path, default=Path("docs"))
    args = p.parse_args()
    app = build(serve_args([str(args.translate), str(args.caption), "--name", "translate",
                            "--name", "caption", "--device", "cpu"]))
    browser_path = shutil.which("chromium") or shutil.which("chromium-browser")
    with serving(app) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path)
        tab = browser.new_page(viewport={"width": 980, "height": 600})
        tab.goto(f"{url}?run=translate")
        tab.fill("#texts", "\n".join(args.text))
        tab.fill("#opt-nbest", "3")
        shoot(tab, args.out / "page-translate.png")
        tab.goto(f"{url}?run=caption")
        tab.set_input_files("#image", str(args.image))
        tab.fill("#opt-nbest", "3")
        shoot(tab, args.out / "page-caption.png")
        browser.close()


def shoot(tab, path: Path) -> None:
    tab.click("#go")
    tab.wait_for_selector("#status:text('answered'), #status.error")
    if "answered" not in tab.inner_text("#status"):
        raise SystemExit(f"screenshots: the page says {tab.inner_text('#status')!r}")
    tab.screenshot(path=str(path), full_page=True)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
