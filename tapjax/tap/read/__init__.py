"""Reading with trained models: runs and exported models, beam-search decoding, metrics, recognition."""
