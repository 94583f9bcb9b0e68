"""Deep active learning for sequence labeling (W-BADGE paper): strategies, selection, the AL loop."""
