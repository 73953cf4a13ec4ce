"""tf.data input for one generator of many views: the view folders of a data root ->
class-balanced (images, view_ids) batches.

Each view folder is decoded once and cached as uint8 by `generator.input.TrainingImages`. A
view's examples are its own photos and its mirror view's photos flipped left-right (a flipped
`left` photo is a `right` photo; `front`, `rear` and `other` are their own mirrors, so their
photos are also used flipped). A view with no photos of its own is still trained when its mirror
has some. Every batch draws its examples from the trained views with equal probability, so a
small view is seen as often as a big one. A view id is the view's index in `ViewImages.views`,
the list a run records in options.json.
"""

from pathlib import Path

from cargen.cli import UsageError
from cargen.views import CAR_VIEWS, VIEWS, mirror_view

ALL_VIEWS = "all"
# How the conditional generator is told the view (see generator.networks).
CONDITIONINGS = ("input", "batchnorm")


def parse_views(text):
    """'all' -> the eight car views; 'left,right' -> ['left', 'right'] (in VIEWS order, each
    once); UsageError naming a word that is not a view."""
    words = [word.strip() for word in text.split(",") if word.strip()]
    if words == [ALL_VIEWS]:
        return list(CAR_VIEWS)
    unknown = [word for word in words if word not in VIEWS]
    if unknown or not words:
        raise UsageError(f"--views {text!r}: {', '.join(map(repr, unknown)) or 'no view'} is not "
                         f"a view; give {ALL_VIEWS} or a comma-separated list of {', '.join(VIEWS)}")
    return [view for view in VIEWS if view in words]


class ViewImages:
    """The decoded photos of the view folders `data_root/<view>` that `views` need (theirs and
    their mirrors'), leaving out the own photos of the views in `without`.

    `.views`: the trained views (those with photos of their own or of their mirror), in the
    order of `views`; `.from_mirror`: those learned from their mirror's photos only;
    `.untrained`: asked-for views with neither; `.count`, `.paths`, `.failed`: over all folders
    used. UsageError when no asked-for view has photos.
    """

    def __init__(self, data_root, views, image_size, channels=3, fit="stretch", cache_file=None,
                 progress=True, without=()):
        from generator.input import TrainingImages
        self.folder = Path(data_root)
        self.folders, self.problems = {}, {}
        for view in dict.fromkeys(v for asked in views for v in (asked, mirror_view(asked))):
            if view in without:
                self.problems[view] = "left out (--without)"
                continue
            cache = f"{cache_file}_{view}" if cache_file else None
            try:
                self.folders[view] = TrainingImages(self.folder / view, image_size, channels, fit,
                                                    cache_file=cache, progress=progress)
            except UsageError as error:
                self.problems[view] = str(error)
        self.views = [v for v in views if v in self.folders or mirror_view(v) in self.folders]
        self.from_mirror = [v for v in self.views if v not in self.folders]
        self.untrained = [v for v in views if v not in self.views]
        if not self.views:
            raise UsageError(f"{self.folder}: none of the views {', '.join(views)} has photos, "
                             f"nor has its mirror view ({self.problems[views[0]]})")
        self.count = sum(images.count for images in self.folders.values())
        self.paths = [path for images in self.folders.values() for path in images.paths]
        self.failed = [path for images in self.folders.values() for path in images.failed]

    def report(self):
        """Lines saying which views learn from mirrored photos and which had none at all."""
        lines = [f"view {view}: {self.folders[view].count} photos" +
                 (f" + {self.folders[mirror_view(view)].count} mirrored from "
                  f"{mirror_view(view)}" if mirror_view(view) in self.folders else "")
                 for view in self.views if view in self.folders]
        lines += [f"view {view}: no photos of its own ({self.problems[view]}); learned from "
                  f"{self.folders[mirror_view(view)].count} mirrored {mirror_view(view)} photos"
                  for view in self.from_mirror]
        lines += [f"warning: view {view} not trained: no photos, nor of its mirror "
                  f"{mirror_view(view)} ({self.problems[view]})" for view in self.untrained]
        return lines

    def view_examples(self, view, seed=None):
        """Endless uint8 examples of `view`: its own photos and its mirror's flipped, mixed in
        proportion to their counts (so every photo is drawn equally often)."""
        import tensorflow as tf
        parts, weights = [], []
        if view in self.folders:
            parts.append(self.folders[view].examples(seed))
            weights.append(self.folders[view].count)
        mirror = self.folders.get(mirror_view(view))
        if mirror is not None:
            parts.append(mirror.examples(seed).map(tf.image.flip_left_right))
            weights.append(mirror.count)
        total = sum(weights)
        return tf.data.Dataset.sample_from_datasets(parts, [w / total for w in weights],
                                                    seed=seed)

    def batches(self, batch_size, seed=None):
        """Endless (images, view_ids) batches: float32 (batch_size, S, S, C) in [-1, 1] and
        int32 (batch_size,), every trained view equally likely."""
        import tensorflow as tf

        from generator.input import scaled_batches
        labelled = [self.view_examples(view, seed).map(
            lambda image, view_id=view_id: (image, tf.constant(view_id, tf.int32)))
            for view_id, view in enumerate(self.views)]
        mixed = tf.data.Dataset.sample_from_datasets(labelled, [1 / len(labelled)] * len(labelled),
                                                     seed=seed)
        return scaled_batches(mixed, batch_size)
