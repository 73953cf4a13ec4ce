"""The Wasserstein GAN: networks, the compiled training step, input, run folders, training CLI."""
