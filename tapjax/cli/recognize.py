"""``tapjax recognize``: the LaTeX of handwritten expressions in InkML files, read by trained runs.

    tapjax recognize FILE.inkml [FILE2 ...] [--checkpoint DIR [--checkpoint DIR2 ...]] \\
        [--beam K] [--max_len N] [--[no-]length_norm] [--data_dir D] [--attention OUT.png] [--json]

prints ``FILE<TAB>LaTeX`` per file (tokens separated by spaces, as in the standard captions;
``--json``: ``{"files": [{"path", "latex"} or {"path", "error"}, ...]}``). The files need ink
only: a truth annotation, if any, is ignored. A file that cannot be recognised (not InkML, no
ink, malformed traces, too many points) gets its own ``error: FILE: problem`` line on stderr
and the others are still recognised; the exit status is 0 when every file was recognised, 2
otherwise. Several ``--checkpoint`` runs decode as an ensemble (Eq. 32); without
``--checkpoint`` the model shipped with tapjax reads them (:mod:`tapjax.tap.read.exported`).
``--attention OUT.png`` draws, per output symbol, the ink coloured by the symbol's spatial
attention and titled with its temporal gate (TAP Figs. 9-10; one image per file, suffixed with
the file's name when there are several). Library: :mod:`tapjax.tap.read.recognition`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tapjax.cli import contract, decoding_flags
from tapjax.tap.read.recognition import Recognition, recognize_files


def parser() -> argparse.ArgumentParser:
    flags = contract.parser("tapjax recognize", __doc__, data_dir=decoding_flags.RUN_DATA_ROOT)
    flags.add_argument("files", nargs="+", metavar="FILE.inkml")
    flags.add_argument("--checkpoint", action="append", default=[], metavar="DIR", help=decoding_flags.CHECKPOINT)
    decoding_flags.add(flags, "test_beam", batch_size=False)
    flags.add_argument("--attention", default=None, metavar="OUT.png", help="draw the attention of each symbol")
    return flags


def recognize(args: argparse.Namespace) -> contract.Result:
    """Recognises the files, names each unreadable one on stderr and draws the attention if asked."""
    results = recognize_files(args.files, args.checkpoint, args.beam, args.max_len, args.data_dir, args.length_norm)
    recognised = [r for r in results if isinstance(r, Recognition)]
    for error in (r for r in results if not isinstance(r, Recognition)):
        print(f"error: {error}", file=sys.stderr)
    if args.attention:
        from tapjax.tap.read.attention_plot import save_attention  # matplotlib only when drawing

        for r in recognised:
            save_attention(r, _attention_path(Path(args.attention), r.path, len(results) > 1))
    files = [{"path": r.path, "latex": r.latex} if isinstance(r, Recognition) else {"path": r.path, "error": r.problem}
             for r in results]
    return contract.Result({"files": files}, "\n".join(f"{r.path}\t{r.latex}" for r in recognised),
                           0 if len(recognised) == len(results) else 2)


def _attention_path(out: Path, path: str, several: bool) -> Path:
    return out.with_name(f"{out.stem}_{Path(path).stem}{out.suffix}") if several else out


def main(argv: list[str] | None = None) -> int:
    """The command line (module docstring); returns the exit status."""
    return contract.run(parser(), recognize, argv)


if __name__ == "__main__":
    sys.exit(main())
