"""Domain augmentation for the viewpoint classifier: photo conditions outside street photos.

Batch operations on float32 images in [0, 255], run inside the tf.data training pipeline:

- `reframe`: the car smaller in the frame on a plain, studio-white or busy background, or
  cropped off-centre so that the border cuts it (listing and press framing);
- `overlay_text`: watermarks, prices, phone numbers and dealer banners, drawn from text masks
  rendered once with Pillow's built-in font;
- `colour_cast`: white balance, gamma and the odd grey-scale photo;
- `blur_and_noise`: out-of-focus and sensor-noise photos;
- `jpeg`: per-photo JPEG re-compression at a random quality.

`DomainAugmentation` chains them with one `strength` that scales every probability.
"""

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cargen.cli import quiet_tensorflow

tf = quiet_tensorflow()

WATERMARK_TEXTS = ("auto RIA", "autoria", "FOR SALE", "SOLD", "$12 900", "9 500 $", "€ 18.450",
                   "+38 067 123 45 67", "0800 123 456", "www.autodealer.com", "cars.example",
                   "AutoMarket", "PREMIUM", "© press", "Photo: dealer", "NEW", "2019", "VIN",
                   "Test drive", "Best price", "CarHouse", "motors.ua", "LIVE", "360°")


def text_masks(image_size, count=48, seed=0):
    """`count` float32 masks (count, S, S, 1) in [0, 1] of watermark-like text.

    Corner watermarks, large diagonal-free centre text, and banners (a translucent bar with the
    text knocked out of it), drawn with Pillow's default font at random sizes.
    """
    rng = np.random.default_rng(seed)
    masks = np.zeros((count, image_size, image_size, 1), np.float32)
    for i in range(count):
        mask = Image.new("L", (image_size, image_size), 0)
        draw = ImageDraw.Draw(mask)
        text = str(rng.choice(WATERMARK_TEXTS))
        kind = ("corner", "centre", "banner")[i % 3]
        size = int(image_size * rng.uniform(0.07, 0.12 if kind != "centre" else 0.2))
        font = ImageFont.load_default(size=max(size, 6))
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        width, height = right - left, bottom - top
        if kind == "banner":
            bar_height = int(height * rng.uniform(1.4, 2.2))
            y = 0 if rng.random() < 0.4 else image_size - bar_height
            draw.rectangle((0, y, image_size, y + bar_height), fill=int(rng.uniform(140, 230)))
            x = int(rng.uniform(0, max(image_size - width, 1)))
            draw.text((x - left, y + (bar_height - height) // 2 - top), text, font=font, fill=0)
        else:
            margin = int(image_size * 0.04)
            if kind == "corner":
                x = margin if rng.random() < 0.5 else image_size - width - margin
                y = margin if rng.random() < 0.5 else image_size - height - margin
            else:
                x = int(rng.uniform(0, max(image_size - width, 1)))
                y = int(rng.uniform(0.2, 0.8) * (image_size - height))
            draw.text((x - left, y - top), text, font=font, fill=255)
        masks[i, :, :, 0] = np.asarray(mask, np.float32) / 255.0
    return masks


def _uniform(n, low, high):
    return tf.random.uniform((n,), low, high)


def _chosen(n, rate):
    return tf.random.uniform((n,)) < rate


def _backgrounds(images):
    """One background per image: studio white/grey, a plain colour gradient, or a busy
    close-up of another photo in the batch."""
    shape = tf.shape(images)
    n, size = shape[0], shape[1]
    ramp = tf.linspace(-1.0, 1.0, size)[None, :, None, None]
    light = _uniform(n, 195.0, 255.0)[:, None, None, None]
    tint = _uniform(n * 3, -8.0, 8.0)
    studio = light + tf.reshape(tint, (n, 1, 1, 3)) + ramp * _uniform(n, -25.0, 10.0)[:, None,
                                                                                       None, None]
    grey = _uniform(n, 0.0, 255.0)[:, None, None, None]
    colour = grey + tf.reshape(_uniform(n * 3, -40.0, 40.0), (n, 1, 1, 3))
    plain = colour + ramp * tf.reshape(_uniform(n * 3, -40.0, 40.0), (n, 1, 1, 3))
    side = _uniform(n, 0.25, 0.6)
    y, x = _uniform(n, 0.0, 1.0) * (1 - side), _uniform(n, 0.0, 1.0) * (1 - side)
    boxes = tf.stack([y, x, y + side, x + side], axis=1)
    donors = tf.random.shuffle(tf.range(n))
    busy = tf.image.crop_and_resize(images, boxes, donors, (size, size))
    kind = tf.random.uniform((n,), 0, 3, tf.int32)[:, None, None, None]
    background = tf.where(kind == 0, studio, tf.where(kind == 1, plain, busy))
    return tf.broadcast_to(background, tf.shape(images))


def reframe(images, rate=0.6, smallest=0.45, tightest=0.65):
    """Re-frame a share `rate` of the images: shrunk (down to `smallest` of the frame, off
    centre, on a new background) or cropped to as little as `tightest` of each side with the
    crop allowed past the border, so the car is cut off."""
    shape = tf.shape(images)
    n, size = shape[0], shape[1]
    scale = tf.exp(_uniform(n, np.log(tightest), np.log(1.0 / smallest)))
    aspect = tf.exp(_uniform(n, -0.15, 0.15))
    height, width = scale * tf.sqrt(aspect), scale / tf.sqrt(aspect)
    margin = 0.1

    def start(extent):
        low = tf.minimum(0.0, 1.0 - extent) - margin
        high = tf.maximum(0.0, 1.0 - extent) + margin
        return low + _uniform(n, 0.0, 1.0) * (high - low)

    y, x = start(height), start(width)
    keep = ~_chosen(n, rate)
    boxes = tf.where(keep[:, None], tf.constant([[0.0, 0.0, 1.0, 1.0]]),
                     tf.stack([y, x, y + height, x + width], axis=1))
    framed = tf.image.crop_and_resize(images, boxes, tf.range(n), (size, size))
    steps = tf.linspace(0.0, 1.0, size)[None, :]

    def covered(low, high):
        source = low[:, None] + steps * (high - low)[:, None]
        return tf.cast((source >= 0.0) & (source <= 1.0), tf.float32)

    inside = (covered(boxes[:, 0], boxes[:, 2])[:, :, None, None]
              * covered(boxes[:, 1], boxes[:, 3])[:, None, :, None])
    return framed * inside + _backgrounds(images) * (1.0 - inside)


def overlay_text(images, masks, rate=0.3):
    """Draw one of `masks` (K, S, S, 1) over a share `rate` of the images in white, black or a
    random colour, at a random opacity."""
    n = tf.shape(images)[0]
    chosen = tf.gather(masks, tf.random.uniform((n,), 0, tf.shape(masks)[0], tf.int32))
    pick = tf.random.uniform((n, 1, 1, 1))
    random_colour = tf.reshape(_uniform(n * 3, 0.0, 255.0), (n, 1, 1, 3))
    colour = tf.where(pick < 0.5, 255.0, tf.where(pick < 0.75, 0.0, random_colour))
    alpha = (_uniform(n, 0.35, 1.0) * tf.cast(_chosen(n, rate), tf.float32))[:, None, None, None]
    weight = alpha * chosen
    return images * (1.0 - weight) + colour * weight


def colour_cast(images, rate=0.5, grey_rate=0.05):
    """White-balance gains and a tone curve (lighter or darker mid-tones) on a share `rate` of
    the images; `grey_rate` of them turned grey-scale."""
    n = tf.shape(images)[0]
    on = tf.cast(_chosen(n, rate), tf.float32)[:, None, None, None]
    gains = 1.0 + on * tf.reshape(_uniform(n * 3, -0.15, 0.15), (n, 1, 1, 3))
    curve = on * _uniform(n, -0.4, 0.4)[:, None, None, None]
    x = tf.clip_by_value(images * gains / 255.0, 0.0, 1.0)
    cast = 255.0 * (x + curve * x * (1.0 - x))
    grey = tf.reduce_mean(cast, axis=-1, keepdims=True)
    return tf.where(_chosen(n, grey_rate)[:, None, None, None],
                    tf.broadcast_to(grey, tf.shape(cast)), cast)


def blur_and_noise(images, blur_rate=0.2, noise_rate=0.2, max_noise=8.0):
    """Blur (the image shrunk threefold and enlarged back, blended in at a random strength) on
    `blur_rate` of the images, and Gaussian noise of up to `max_noise` grey levels on
    `noise_rate` of them."""
    shape = tf.shape(images)
    n, size = shape[0], shape[1:3]
    blurred = tf.image.resize(tf.image.resize(images, size // 3, antialias=True), size)
    mix = (_uniform(n, 0.4, 1.0) * tf.cast(_chosen(n, blur_rate), tf.float32))[:, None, None,
                                                                                None]
    images = images + mix * (blurred - images)
    sigma = (_uniform(n, 1.0, max_noise) * tf.cast(_chosen(n, noise_rate), tf.float32))
    return images + tf.random.normal(tf.shape(images)) * sigma[:, None, None, None]


def jpeg(images, rate=0.4, quality=(15, 90)):
    """Re-compress a share `rate` of the images as JPEG at a random quality in `quality`."""
    n = tf.shape(images)[0]
    qualities = tf.random.uniform((n,), quality[0], quality[1] + 1, tf.int32)
    chosen = _chosen(n, rate)

    def one(args):
        image, q, yes = args
        return tf.cond(
            yes,
            lambda: tf.cast(tf.image.adjust_jpeg_quality(
                tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8), q), tf.float32),
            lambda: image)

    result = tf.map_fn(one, (images, qualities, chosen),
                       fn_output_signature=tf.TensorSpec(images.shape[1:], tf.float32))
    return tf.ensure_shape(result, images.shape)


class DomainAugmentation:
    """Re-framing before, and overlays, colour, blur, noise and JPEG after, the geometric and
    photometric Keras augmentation; `strength` scales every probability (0 = off)."""

    def __init__(self, image_size, strength=1.0, seed=0):
        self.strength = float(strength)
        self.masks = tf.constant(text_masks(image_size, seed=seed))

    def _rate(self, rate):
        return min(rate * self.strength, 1.0)

    def before(self, images):
        """Re-framing and new backgrounds (on the clean image, before geometric jitter)."""
        return reframe(images, self._rate(0.6))

    def after(self, images):
        """Overlays and capture artefacts (last, as a camera or website adds them)."""
        images = overlay_text(images, self.masks, self._rate(0.3))
        images = colour_cast(images, self._rate(0.5), self._rate(0.05))
        images = blur_and_noise(images, self._rate(0.2), self._rate(0.2))
        images = tf.clip_by_value(images, 0.0, 255.0)
        return jpeg(images, self._rate(0.4))
