"""Content hashes and perceptual hashes of pictures, and grouping of exact and near duplicates.

`hash_image` reads a file once: a BLAKE2b digest of its bytes finds exact copies; a 64-bit
perceptual hash (pHash: the signs of the low-frequency DCT of a 32x32 grayscale thumbnail, decoded
with Pillow's JPEG draft mode at 1/2 to 1/8 scale) finds re-encoded, resized or lightly edited
copies, and a 4x4 grid of mean colours confirms them (pHash alone calls two plain pictures with
similar layouts alike, and cannot tell a red car from the same shot of a blue one).

`near_pairs` finds every pair of perceptual hashes within a Hamming distance without comparing
all pairs: split into `threshold + 1` bands, two hashes that close agree exactly on at least one
band (pigeonhole), so only hashes sharing a band value are compared.
"""

import hashlib
import io
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image

from cargen.images import MAX_PIXELS, ImageDecodeError

HASH_BITS = 64
THUMBNAIL_SIZE = 32
COLOUR_GRID = 4
_LOW_FREQUENCIES = 8


def _dct_matrix(size):
    rows = np.arange(size)[:, None]
    cols = np.arange(size)[None, :]
    matrix = np.cos(np.pi * (2 * cols + 1) * rows / (2 * size)) * np.sqrt(2.0 / size)
    matrix[0] /= np.sqrt(2.0)
    return matrix.astype(np.float32)


_DCT = _dct_matrix(THUMBNAIL_SIZE)
_MEDIAN_INDEX = (HASH_BITS - 1) // 2  # the median of the 63 coefficients after the DC term


@dataclass(frozen=True)
class ImageHash:
    """What the hashing pass learns about one picture."""

    content: str  # BLAKE2b-128 of the file's bytes, hex
    perceptual: int  # 64-bit pHash
    width: int
    height: int
    size_bytes: int
    colours: bytes  # mean RGB of a 4x4 grid of the picture (48 bytes)


def perceptual_hash(gray):
    """64-bit pHash of a 2-D uint8/float array (any size; it is resized to 32x32 first)."""
    image = Image.fromarray(np.asarray(gray, np.uint8), "L")
    return _phash_of_thumbnail(image.resize((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.BILINEAR))


def _phash_of_thumbnail(thumbnail):
    pixels = np.asarray(thumbnail, np.float32)
    low = _DCT[:_LOW_FREQUENCIES]
    coefficients = (low @ pixels @ low.T).ravel()
    median = np.partition(coefficients[1:], _MEDIAN_INDEX)[_MEDIAN_INDEX]
    return int.from_bytes(np.packbits(coefficients > median).tobytes(), "big")


def hash_bytes(data, name="<bytes>"):
    """`ImageHash` of an image file's content; raises `ImageDecodeError` naming `name`."""
    if not data:
        raise ImageDecodeError(name, "empty file (0 bytes)")
    content = hashlib.blake2b(data, digest_size=16).hexdigest()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.UnidentifiedImageError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise ImageDecodeError(name, "not an image, or a format Pillow cannot read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageDecodeError(name, f"cannot read ({error})") from None
    with image:
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise ImageDecodeError(name, f"too large ({width}x{height} pixels)")
        try:
            if image.format == "JPEG":
                image.draft("RGB", (THUMBNAIL_SIZE, THUMBNAIL_SIZE))
            image.load()
            thumbnail = image.convert("RGB").resize((THUMBNAIL_SIZE, THUMBNAIL_SIZE),
                                                    Image.BILINEAR)
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as error:
            reason = str(error) or type(error).__name__
            if "truncated" in reason:
                reason = "truncated file"
            raise ImageDecodeError(name, f"corrupt image ({reason})") from None
    colours = thumbnail.resize((COLOUR_GRID, COLOUR_GRID), Image.BOX).tobytes()
    return ImageHash(content, _phash_of_thumbnail(thumbnail.convert("L")), width, height,
                     len(data), colours)


def hash_image(path):
    """`ImageHash` of the picture at `path`; raises `ImageDecodeError` for a bad file."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise ImageDecodeError(path, f"cannot read ({error.strerror or error})") from None
    return hash_bytes(data, path)


def _hash_or_reason(path):
    try:
        return hash_image(path), None
    except ImageDecodeError as error:
        return None, error.reason


def hash_images(paths, workers=4):
    """Yield `(path, ImageHash or None, reason or None)` for each path, in order.

    Files are read and decoded on `workers` threads (Pillow and hashlib release the GIL).
    """
    paths = list(paths)
    if workers <= 1:
        for path in paths:
            yield (path, *_hash_or_reason(path))
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for path, result in zip(paths, pool.map(_hash_or_reason, paths)):
            yield (path, *result)


def colour_difference(a, b):
    """Mean absolute difference (0-255) of two `ImageHash.colours` signatures."""
    return float(np.abs(np.frombuffer(a, np.uint8).astype(np.int16)
                        - np.frombuffer(b, np.uint8)).mean())


def hamming(a, b):
    """Number of differing bits between two 64-bit hashes."""
    return (int(a) ^ int(b)).bit_count()


def _bands(threshold):
    count = threshold + 1
    edges = np.linspace(0, HASH_BITS, count + 1).round().astype(int)
    return [(int(lo), int(hi - lo)) for lo, hi in zip(edges[:-1], edges[1:])]


def near_pairs(hashes, threshold):
    """All index pairs `(i, j, distance)` with i < j and Hamming distance <= `threshold`.

    Returns three int arrays. Work grows with the number of hashes sharing a band value, not
    with the square of the number of hashes.
    """
    if not 0 <= threshold < HASH_BITS // 2:
        raise ValueError(f"threshold must be between 0 and {HASH_BITS // 2 - 1}, not {threshold}")
    values = np.asarray(hashes, dtype=np.uint64)
    count = len(values)
    found_first, found_second = [], []
    for low, width in _bands(threshold):
        key = (values >> np.uint64(low)) & np.uint64((1 << width) - 1)
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        starts = np.ones(count, bool)
        starts[1:] = sorted_key[1:] != sorted_key[:-1]
        run_starts = np.flatnonzero(starts)
        run_ends = np.append(run_starts[1:], count)
        end_of = run_ends[np.cumsum(starts) - 1]
        active = np.flatnonzero(end_of - np.arange(count) > 1)
        step = 1
        while active.size:
            active = active[active + step < end_of[active]]
            if not active.size:
                break
            first, second = order[active], order[active + step]
            close = np.bitwise_count(values[first] ^ values[second]) <= threshold
            found_first.append(np.minimum(first, second)[close])
            found_second.append(np.maximum(first, second)[close])
            step += 1
    if not found_first:
        empty = np.zeros(0, np.int64)
        return empty, empty.copy(), empty.copy()
    codes = np.unique(np.concatenate(found_first).astype(np.int64) * count
                      + np.concatenate(found_second))
    first, second = codes // count, codes % count
    distance = np.bitwise_count(values[first] ^ values[second]).astype(np.int64)
    return first, second, distance


@dataclass
class DuplicateGroup:
    """A kept picture and its copies. `members[0]` is the keeper; `distances[i]` is member i's
    Hamming distance to the keeper's perceptual hash; `exact[i]` whether its bytes are equal."""

    members: list
    distances: list
    exact: list

    @property
    def kind(self):
        """"exact" when every member is a byte-for-byte copy of the keeper, else "near"."""
        return "exact" if all(self.exact) else "near"


def group_duplicates(hashes, threshold, preference=None, max_colour_difference=12.0):
    """Group pictures that are exact copies or near copies of a group's keeper.

    A near copy is within `threshold` bits of the keeper's perceptual hash (which sees only the
    grayscale layout) and within `max_colour_difference` (mean absolute difference, 0-255, of
    the 4x4 colour grids: the same shot of a car in another paint is not a copy). `hashes` is a
    list of `ImageHash`; `preference` an optional list of sort keys (lower is kept first;
    default: more pixels, then more bytes, then index). Groups are stars around their keeper,
    not chains, so moving all but the keeper never sets aside a picture that is not a near copy
    of one kept. A threshold below 0 finds exact copies only. Returns groups of two or more.
    """
    if preference is None:
        preference = [(-h.width * h.height, -h.size_bytes, i) for i, h in enumerate(hashes)]
    order = sorted(range(len(hashes)), key=lambda i: preference[i])
    by_content = {}
    for index in order:
        by_content.setdefault(hashes[index].content, []).append(index)
    nodes = list(by_content.values())  # each node: identical files, best first
    neighbours = [[] for _ in nodes]
    if threshold >= 0 and len(nodes) > 1:
        leaders = [hashes[node[0]] for node in nodes]
        first, second, distances = near_pairs([h.perceptual for h in leaders], threshold)
        colours = np.array([np.frombuffer(h.colours, np.uint8) for h in leaders], np.int16)
        similar = np.abs(colours[first] - colours[second]).mean(axis=1) <= max_colour_difference
        for a, b, distance in zip(first[similar], second[similar], distances[similar]):
            neighbours[a].append((int(b), int(distance)))
            neighbours[b].append((int(a), int(distance)))
    assigned = [False] * len(nodes)
    groups = []
    for node_index, node in enumerate(nodes):  # nodes are in preference order already
        if assigned[node_index]:
            continue
        assigned[node_index] = True
        members, distances, exact = list(node), [0] * len(node), [True] * len(node)
        for other, distance in sorted(neighbours[node_index], key=lambda pair: pair[0]):
            if not assigned[other]:
                assigned[other] = True
                members += nodes[other]
                distances += [distance] * len(nodes[other])
                exact += [False] * len(nodes[other])
        if len(members) > 1:
            groups.append(DuplicateGroup(members, distances, exact))
    return groups
