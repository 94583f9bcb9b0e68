"""Ink and data: InkML, LaTeX tokens, point features (Eq. 2), alignment, CROHME splits, batches."""
