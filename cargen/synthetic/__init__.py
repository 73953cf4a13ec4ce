"""The built-in synthetic dataset: a small 3D car renderer and the dataset writer behind
`data/synthesize.py`."""
