"""seq2seq-caption: images (or videos) in, one caption per image out.

    seq2seq-caption RUN IMAGE... [--beam-size 5] [--nbest 1]
    seq2seq-caption RUN --input images.txt [--output captions.txt]   # a path a line
    seq2seq-caption RUN --input test.src --sheet sheet.png --refs test.refs.jsonl
    seq2seq-caption RUN --ensemble RUN2 --ensemble RUN3 IMAGE...
    seq2seq-caption RUN IMAGE... --attention-png panels/      # an attention model

A thin shell over `seq2seq.Captioner` (the Python API). An image is any file Pillow reads;
a video (a frames run) is a .npy of frames or a folder of frame images. Every path is
checked before anything is captioned; an empty line in the list, a missing or unreadable
image is one line naming it, and --output is replaced only once complete. With --nbest N > 1,
each image gives N lines `index ||| caption ||| score`. --sheet draws the first images
with their captions (and references, with --refs): a contact sheet, to look at.
--attention-png DIR draws, for an attention model, each image with each word's attention
over it (DIR/000001.png ..., in input order).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seq2seq.cli.common import (add_search_options, check_not_inputs, output_dir, run as run_cli,
                                write_output)
from seq2seq.config.extras import requires
from seq2seq.data.textfile import input_file, read_lines
from seq2seq.export.locate import locate
from seq2seq.training.rundir import inference_files


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="seq2seq-caption", description=__doc__.split("\n")[0])
    p.add_argument("run", type=Path, help="run directory (uses best.pt) or checkpoint file")
    p.add_argument("images", type=Path, nargs="*", metavar="IMAGE")
    p.add_argument("--ensemble", type=Path, action="append", default=[], metavar="RUN",
                   help="another run whose log-probabilities are averaged in (repeatable)")
    p.add_argument("--input", type=Path, help="a file of image paths, one a line")
    add_search_options(p, "caption")
    p.add_argument("--sheet", type=Path, help="also draw a contact sheet (.png) of the images")
    p.add_argument("--sheet-size", type=int, default=16, help="images on the sheet")
    p.add_argument("--refs", type=Path, help="references (.jsonl, a list a line) for the sheet")
    p.add_argument("--attention-png", type=Path, metavar="DIR",
                   help="write each image with its words' attention here (attention models)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p.parse_intermixed_args(argv)


def image_paths(images: list[Path], listing: Path | None) -> list[str]:
    """The images named on the command line, or listed in a file; each must exist."""
    if bool(images) == (listing is not None):
        raise ValueError("give images on the command line or --input LIST (one of them)")
    if listing is None:
        named = [(str(p), f"argument {i}") for i, p in enumerate(images, 1)]
    else:
        named = [(line.strip(), f"{listing}:{n}")
                 for n, line in enumerate(read_lines(input_file(listing)), 1)]
    for path, where in named:
        if not path:
            raise ValueError(f"{where}: an empty line where an image path should be")
        if not Path(path).exists():
            raise FileNotFoundError(f"{where}: {path}: no such image file")
    return [path for path, _ in named]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    run_cli("seq2seq-caption", lambda: _main(args), args.debug)


def _main(args: argparse.Namespace) -> None:
    requires("PIL.Image", "caption", "seq2seq-caption (reading images)")  # before any work
    # torch: imported after the arguments are checked
    from seq2seq.tasks.captioning.captioner import Captioner
    from seq2seq.training.report import wants_bar
    paths = image_paths(args.images, args.input)
    inputs = [args.input, args.refs, *map(Path, paths),
              *inference_files(locate([args.run, *args.ensemble]))]
    check_not_inputs(args.output, inputs, "--output")
    check_not_inputs(args.sheet, [*inputs, args.output], "--sheet")
    refs = None
    if args.refs is not None:
        from seq2seq.tasks.captioning.metrics import read_refs
        refs = read_refs(args.refs)
        if len(refs) != len(paths):
            raise ValueError(f"{args.refs}: {len(refs)} references for {len(paths)} images")
    c = Captioner.from_run(args.run, *args.ensemble, device=args.device)
    decode = c.settings(args.beam_size, args.nbest, max_len_b=args.max_len_b,
                        max_len=args.max_len,
                        batch_size=args.batch_size, precision=args.precision)
    attention = args.attention_png is not None
    if attention:
        output_dir(args.attention_png, "--attention-png")
        c.check_attention("--attention-png")
    hyps = c.hypotheses(paths, decode, progress=wants_bar(), attention=attention)
    lines = c.output_lines(hyps, decode.nbest)
    if attention:
        from seq2seq.tasks.captioning.attention_png import draw
        for n, (path, (words, maps)) in enumerate(zip(paths, c.attention_maps(paths, hyps)), 1):
            draw(args.attention_png / f"{n:06d}.png", c.load(path), words, maps)
    if args.sheet is not None:
        from seq2seq.tasks.captioning.contact_sheet import draw_sheet
        n = min(args.sheet_size, len(paths))
        best = c.tokenizer.decode_target([h[0].ids for h in hyps[:n]])
        draw_sheet(args.sheet, [c.load(p) for p in paths[:n]], best,
                   None if refs is None else refs[:n])
    write_output(args.output, lines)


if __name__ == "__main__":
    main()
