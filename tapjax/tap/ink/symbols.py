"""The CROHME symbol vocabulary (``crohme/tap/dictionary.txt``: ``symbol<TAB>id``).

The standard TAP vocabulary has 111 symbols; ``<eol>`` (id :data:`EOS` = 0) ends
every caption.
"""

from __future__ import annotations

import collections
import os
from pathlib import Path
from typing import Iterable

from tapjax.common.paths import dataset_dir

EOS = 0
EOS_TOKEN = "<eol>"
DICTIONARY = Path("tap") / "dictionary.txt"


class Vocab:
    """Symbol <-> id mapping."""

    def __init__(self, symbols: Iterable[str]):
        self.symbols = list(symbols)
        self.ids = {s: i for i, s in enumerate(self.symbols)}
        if self.symbols[EOS] != EOS_TOKEN or len(self.ids) != len(self.symbols):
            raise ValueError(f"a vocabulary needs unique symbols and {EOS_TOKEN} at id {EOS}")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Vocab":
        """Reads a ``symbol<TAB>id`` dictionary file."""
        entries = {}
        for line in Path(path).read_text().splitlines():
            if line.strip():
                symbol, index = line.split()
                entries[int(index)] = symbol
        if sorted(entries) != list(range(len(entries))):
            raise ValueError(f"{path}: ids are not 0..{len(entries) - 1}")
        return cls(entries[i] for i in range(len(entries)))

    @classmethod
    def from_data_root(cls, data_dir: str | os.PathLike | None = None) -> "Vocab":
        """The standard vocabulary under the data root (``crohme/tap/dictionary.txt``)."""
        return cls.load(dataset_dir("crohme", data_dir) / DICTIONARY)

    def __len__(self) -> int:
        return len(self.symbols)

    def __contains__(self, symbol: str) -> bool:
        return symbol in self.ids

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Ids of ``tokens``; raises ``KeyError`` naming an out-of-vocabulary token."""
        try:
            return [self.ids[t] for t in tokens]
        except KeyError as error:
            raise KeyError(f"token {error.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Symbols of ``ids`` up to (not including) the first :data:`EOS`."""
        out = []
        for i in ids:
            if int(i) == EOS:
                break
            out.append(self.symbols[int(i)])
        return out

    def unknown(self, tokens: Iterable[str]) -> list[str]:
        """The tokens of ``tokens`` that are not in the vocabulary (in order, repeated)."""
        return [t for t in tokens if t not in self.ids]

    def unknown_counts(self, token_lists: Iterable[Iterable[str]]) -> dict[str, int]:
        """How often each out-of-vocabulary token occurs in ``token_lists``."""
        return dict(collections.Counter(t for tokens in token_lists for t in self.unknown(tokens)))
