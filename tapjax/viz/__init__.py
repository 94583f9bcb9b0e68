"""Plots: active-learning curves."""
