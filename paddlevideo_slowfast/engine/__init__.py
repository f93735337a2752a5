"""Training and evaluation: the loop, checkpoints, seeding, logging, PreciseBN."""
