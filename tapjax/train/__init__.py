"""Training machinery shared by TAP and the sequence taggers: sharding, checkpoints, loops."""
