"""ml_collections configs of the experiments (``get_config(variant)`` per file)."""
