"""Decoding: the model-family interface, ensembles/mixtures (TAP Eqs. 32-33), jitted beam search."""

from tapjax.decode.beam import BeamResult, beam_search, greedy
from tapjax.decode.family import Ensemble, Family, Mixture, stack_params

__all__ = ["BeamResult", "Ensemble", "Family", "Mixture", "beam_search", "greedy", "stack_params"]
