"""``tapjax draw``: InkML files drawn as the images an offline model (WAP) reads.

    tapjax draw FILE.inkml [FILE2 ...] --out OUT.png [--height 128] [--max_width 1024] \\
        [--pen_width 3.0] [--margin 2.0] [--json]

renders each file (:mod:`tapjax.tap.ink.render`, with these settings) and draws the images in a
column into ``OUT.png`` (``docs/rendered.png``: four CROHME 2014 test expressions), each titled
with its file's name and size. An unreadable file is one ``error: FILE: problem`` line on stderr
and the others are still drawn; the exit status is 0 if every file was drawn, else 2. Prints what
was drawn (``--json``: ``{"out", "files": [{"path", "height", "width"} or {"path", "error"}, ...]}``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from tapjax.cli import contract
from tapjax.tap.ink import inkml
from tapjax.tap.ink.render import Settings, plot_images, render


def parser() -> argparse.ArgumentParser:
    flags = contract.parser("tapjax draw", __doc__, data_dir=None)
    flags.add_argument("files", nargs="+", metavar="FILE.inkml")
    flags.add_argument("--out", required=True, metavar="OUT.png", help="the PNG to write")
    for field in dataclasses.fields(Settings):
        flags.add_argument(f"--{field.name}", type=type(field.default), default=field.default,
                           help="(default: %(default)s)")
    return flags


def draw(args: argparse.Namespace) -> contract.Result:
    """Renders the readable files and draws them into ``--out``."""
    try:
        settings = Settings(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Settings)})
    except ValueError as error:
        raise contract.UsageError(error) from None
    images, files = [], []
    for path in args.files:
        try:
            images.append(render(inkml.read_inkml(path).traces, settings))
        except inkml.InkMLError as error:
            print(f"error: {error}", file=sys.stderr)
            files.append({"path": path, "error": error.problem})
            continue
        files.append({"path": path, "height": images[-1].shape[0], "width": images[-1].shape[1]})
    drawn = [f for f in files if "error" not in f]
    if images:
        plot_images(images, [Path(f["path"]).name for f in drawn]).savefig(args.out)
    text = f"drew {len(drawn)} of {len(files)} files into {args.out}"
    return contract.Result({"out": args.out, "files": files}, text, 0 if len(drawn) == len(files) else 2)


def main(argv: list[str] | None = None) -> int:
    """The command line (module docstring); returns the exit status."""
    return contract.run(parser(), draw, argv)


if __name__ == "__main__":
    sys.exit(main())
