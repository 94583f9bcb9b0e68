"""Datasets: CROHME InkML (handwritten maths) and CoNLL-2003 / ATIS / FMTOD (sequence labeling)."""
