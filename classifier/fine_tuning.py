"""Starting a classifier from a trained run's weights (`train_model.py --init RUN`).

The run's network, input size and fit carry over; its classes carry over too, extended by any
view the new data has and the run lacks (those output rows start fresh). Every check fails with
one line saying what differs.
"""

from pathlib import Path

import numpy as np

from cargen.cli import UsageError
from cargen.views import VIEWS

# Fine-tuning defaults: a tenth of the learning rate and few epochs.
FINE_TUNE_DEFAULTS = {"learning_rate_share": 0.1, "epochs": 15}
OUTPUT_LAYER = "probabilities"


def init_run_info(run_dir):
    """classes.json of the run to start from; a one-line error if it is not a classifier run."""
    from classifier.inference import check_run_folder
    run_dir = Path(run_dir)
    try:
        return check_run_folder(run_dir)
    except UsageError as error:
        raise UsageError(f"--init {run_dir}: not a classifier run ({error})") from None


def inherit_options(options, info):
    """Fill `options`' unset arch, width, image size and fit from the init run's `info`;
    refuse values that cannot carry its weights over."""
    run = options["init"]
    arch = info.get("arch", "compact")
    if options.get("arch") is None:
        options["arch"] = arch
    elif options["arch"] != arch:
        raise UsageError(f"--init {run}: its network is {arch}, --arch asks {options['arch']}")
    width = float(info.get("width", 1.0))
    if options.get("width") is None:
        options["width"] = width
    elif float(options["width"]) != width:
        raise UsageError(f"--init {run}: its network's width is {width:g}, --width asks "
                         f"{options['width']:g}")
    if options.get("image_size") is None:
        options["image_size"] = info["image_size"]
    elif options["image_size"] != info["image_size"]:
        raise UsageError(f"--init {run}: its image size is {info['image_size']} px, "
                         f"--image-size asks {options['image_size']}")
    if options.get("fit") is None:
        options["fit"] = info.get("fit", "stretch")
    return options


def carried_classes(run_classes, data_classes):
    """The fine-tuned model's classes: the run's plus the data's new ones, in VIEWS order."""
    present = set(run_classes) | set(data_classes)
    return [view for view in VIEWS if view in present]


def initialise_from(model, run_dir, classes):
    """Copy the weights of the run in `run_dir` into `model` (built for `classes`).

    Every layer but the output takes the run's weights; the output's rows of the run's classes
    are copied by name, new classes keep their fresh initialisation. Returns the new classes.
    """
    from classifier.inference import load_classifier
    run = load_classifier(run_dir)
    old = run.model
    for layer in model.layers:
        if not layer.weights:
            continue
        try:
            source = old.get_layer(layer.name)
        except ValueError:
            raise UsageError(f"--init {run_dir}: its network has no layer {layer.name!r}; the "
                             f"weights cannot be carried over") from None
        old_weights, new_weights = source.get_weights(), layer.get_weights()
        if layer.name == OUTPUT_LAYER:
            layer.set_weights(_output_weights(old_weights, new_weights, run.classes, classes,
                                              run_dir))
            continue
        shapes = [w.shape for w in old_weights], [w.shape for w in new_weights]
        if shapes[0] != shapes[1]:
            raise UsageError(f"--init {run_dir}: layer {layer.name!r} has weights of shapes "
                             f"{shapes[0]}, this network {shapes[1]}")
        layer.set_weights(old_weights)
    return [view for view in classes if view not in run.classes]


def _output_weights(old_weights, new_weights, old_classes, classes, run_dir):
    kernel, bias = (np.array(w) for w in new_weights)
    old_kernel, old_bias = old_weights
    if old_kernel.shape[0] != kernel.shape[0] or old_kernel.shape[1] != len(old_classes):
        raise UsageError(f"--init {run_dir}: its output layer has shape {old_kernel.shape}, "
                         f"expected ({kernel.shape[0]}, {len(old_classes)}) for its classes "
                         f"{', '.join(old_classes)}")
    for j, view in enumerate(classes):
        if view in old_classes:
            i = old_classes.index(view)
            kernel[:, j], bias[j] = old_kernel[:, i], old_bias[i]
    return [kernel, bias]


def freeze_batch_norm(model):
    """Keep every batch-normalisation layer's statistics and scale as they are (inference
    mode during training); returns how many layers were frozen."""
    import keras
    frozen = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
            frozen += 1
    return frozen
