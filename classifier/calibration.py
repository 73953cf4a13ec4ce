"""Temperature scaling: one number T that makes the classifier's confidence mean what it says.

`classifier.inference` applies T as softmax(log(p) / T) to the (flip-averaged) probabilities p,
so T is fitted the same way: minimise the negative log-likelihood of held-back training photos.
"""

import numpy as np

# Fewer held-back photos than this fit a temperature to noise (8 photos gave T = 2, after which
# no photo reached the sort's 0.70); such a run keeps its starting temperature instead.
MIN_CALIBRATION_PHOTOS = 50


def apply_temperature(probabilities, temperature):
    """softmax(log(p) / T), row-wise, exactly as the inference code applies it."""
    logits = np.log(np.maximum(probabilities, 1e-12)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=1, keepdims=True)


def negative_log_likelihood(probabilities, true):
    """Mean -log p(true class)."""
    picked = probabilities[np.arange(len(true)), np.asarray(true)]
    return float(-np.log(np.maximum(picked, 1e-12)).mean())


def fit_temperature(probabilities, true, low=0.05, high=20.0):
    """The T in [low, high] minimising the NLL of `true` under softmax(log(p) / T).

    A coarse log-spaced grid, then a golden-section search around the best grid point. With no
    photos it returns 1.0 (no calibration).
    """
    if len(true) == 0:
        return 1.0

    def loss(log_t):
        return negative_log_likelihood(apply_temperature(probabilities, np.exp(log_t)), true)

    grid = np.linspace(np.log(low), np.log(high), 61)
    best = int(np.argmin([loss(t) for t in grid]))
    a, b = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(40):
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        if loss(c) < loss(d):
            b = d
        else:
            a = c
    return float(np.exp((a + b) / 2))


def chosen_temperature(probabilities, true, fallback, label):
    """`(T, how)`: the fitted temperature when at least MIN_CALIBRATION_PHOTOS photos are
    given, else `fallback` (the fine-tuned run's, or 1, named by `label`); `how` says which,
    for classes.json."""
    if len(true) >= MIN_CALIBRATION_PHOTOS:
        return fit_temperature(probabilities, true), (f"temperature fitted on {len(true)} "
                                                      f"held-back training photos")
    return float(fallback), (f"{len(true)} held-back photos are too few to fit a temperature "
                             f"(at least {MIN_CALIBRATION_PHOTOS}): {label} {fallback:.3f} kept")
