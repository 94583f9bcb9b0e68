"""tapjax: Track, Attend and Parse, and deep active learning for sequence labeling, in JAX."""

__version__ = "0.1.0"


def load_pretrained():
    """The TAP model shipped with tapjax, ready to decode (:func:`tapjax.tap.read.pretrained.load`;
    e.g. ``tapjax.tap.read.recognize.recognize(tapjax.load_pretrained(), ["a.inkml"])``)."""
    from tapjax.tap.read import pretrained  # JAX loads only when a model is asked for

    return pretrained.load()
