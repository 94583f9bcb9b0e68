"""A run config's ``model`` block as the frozen dataclass a model family is built from.

The block is the only place a model's sizes and switches are written (``experiments/configs``);
:func:`config_from_block` makes :class:`TAPConfig` or :class:`WAPConfig` (the fields of the parser
both share, :class:`ParserConfig`, and their encoder's) of it by keyword, so a field the dataclass
lacks, or one the block lacks, is an error naming it rather than a silent default. The configs
live apart from the networks so that the parser, which both TAP and WAP build, reads its config
without importing either model.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Mapping, TypeVar

from tapjax.tap.nets.attention import TEMPORAL_FORMS

Config = TypeVar("Config")


def config_from_block(cls: type[Config], block: Mapping[str, Any], **overrides) -> Config:
    """``cls`` (a dataclass with a ``FAMILY`` name) from a config's model ``block`` (a ConfigDict or dict),
    by keyword; ``overrides`` replace fields. The block's ``family`` names the family it builds and
    must be ``cls.FAMILY``. Lists (a tuple read back from JSON) become tuples, so the config stays
    hashable. A wrong family, an unknown field or a missing one is a ``ValueError`` naming it."""
    values = {**dict(block), **overrides}
    names = {"family"} | {f.name for f in dataclasses.fields(cls)}
    unknown, missing = sorted(values.keys() - names), sorted(names - values.keys())
    if unknown or missing:
        raise ValueError(f"model config: unknown fields {unknown}, missing fields {missing}")
    family = values.pop("family")
    if family != cls.FAMILY:
        raise ValueError(f"model config: family is {family!r}, not {cls.FAMILY!r}")
    return cls(**{k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in values.items()})


@dataclasses.dataclass(frozen=True)
class ParserConfig:
    """The sizes and switches of the parser that TAP and WAP share (Eqs. 11-21): the vocabulary, the
    embedding, the GRUs, the attention, the coverage model (``coverage``: a convolution of
    ``coverage_kernel`` taps a side with ``coverage_filters`` filters over the attention history)
    and the maxout readout."""

    FAMILY: ClassVar[str]  # the model.family that builds a model of this config

    vocab_size: int
    embed_dim: int
    parser_hidden: int
    attention_dim: int
    coverage: bool
    coverage_kernel: int
    coverage_filters: int
    maxout_dim: int

    from_config = classmethod(config_from_block)


@dataclasses.dataclass(frozen=True)
class TAPConfig(ParserConfig):
    """TAP's sizes and switches (the paper's are in ``experiments/configs/crohme14.py``): the
    parser's, and ``feature_dim`` point features read by a tracker of ``tracker_layers`` BiGRU
    layers of ``tracker_hidden`` units, time halved after the layers ``pool_after``.

    ``temporal``: temporal attention (Eqs. 22-27), in the form ``temporal_attention`` (one of
    :data:`~tapjax.tap.nets.attention.TEMPORAL_FORMS`): ``"paper"`` (Eqs. 22-27 as printed) or
    ``"authors"`` (as the authors' released code computes ``beta_t``; see
    :mod:`tapjax.tap.nets.attention`); ``dropout`` > 0: dropout of the annotations and of the
    readout in training (not in the paper).
    """

    FAMILY: ClassVar[str] = "tap"

    feature_dim: int
    tracker_hidden: int
    tracker_layers: int
    pool_after: tuple[int, ...]
    temporal: bool
    temporal_attention: str
    dropout: float

    def __post_init__(self):
        if self.temporal_attention not in TEMPORAL_FORMS:
            raise ValueError(f"model config: temporal_attention is {self.temporal_attention!r}; "
                             f"choose from {TEMPORAL_FORMS}")


@dataclasses.dataclass(frozen=True)
class WAPConfig(ParserConfig):
    """WAP's sizes and switches (written in ``experiments/configs/wap.py`` only): the parser's (its
    coverage a 2-D convolution of ``coverage_kernel x coverage_kernel``), and ``image_height``, the
    rows of every input image (``render.Settings.height``); ``watcher_filters`` / ``watcher_layers``:
    the filters and the convolutions of each watcher block (one block per entry, each halving the
    image); ``batch_norm``: batch normalisation after every convolution.
    """

    FAMILY: ClassVar[str] = "wap"

    image_height: int
    watcher_filters: tuple[int, ...]
    watcher_layers: tuple[int, ...]
    batch_norm: bool

    def __post_init__(self):
        if not self.watcher_filters or len(self.watcher_filters) != len(self.watcher_layers):
            raise ValueError(f"model config: need one watcher_layers entry per watcher_filters entry (at least one "
                             f"block), got {self.watcher_filters} and {self.watcher_layers}")
        if min(self.watcher_layers) < 1 or min(self.watcher_filters) < 1 or self.image_height < 1:
            raise ValueError(f"model config: watcher_filters, watcher_layers and image_height must be >= 1, got "
                             f"{self.watcher_filters}, {self.watcher_layers} and {self.image_height}")

    @property
    def temporal(self) -> bool:
        """Always False: WAP has no temporal attention (read by the shared parser)."""
        return False
