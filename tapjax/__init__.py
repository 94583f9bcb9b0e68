"""tapjax: Track, Attend and Parse, and deep active learning for sequence labeling, in JAX."""

__version__ = "0.1.0"
