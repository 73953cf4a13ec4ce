"""Shared code for every cargen script: view names, image discovery and decoding, tf.data input,
CLI helpers, and the dataset tools (synthetic renderer, Car Connection preparation)."""
