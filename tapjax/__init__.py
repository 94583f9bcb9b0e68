"""tapjax: Track, Attend and Parse, and deep active learning for sequence labeling, in JAX."""

__version__ = "0.1.0"


def load_pretrained():
    """The TAP model shipped with tapjax, ready to decode (:func:`tapjax.tap.read.runs.load_runs` of no run;
    e.g. ``tapjax.tap.read.recognition.recognize(tapjax.load_pretrained(), ["a.inkml"])``)."""
    from tapjax.tap.read import runs  # JAX loads only when a model is asked for

    return runs.load_runs()
