"""The WGAN generator: networks, training step, run folders, sampling and evaluation."""
