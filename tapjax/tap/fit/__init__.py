"""Training: train_and_evaluate (TAP, WAP), checkpoint averaging, the language model's run (lm_trainer)."""
