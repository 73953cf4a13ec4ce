"""The Car Connection Picture Dataset's file names: 16 fields and an id, joined by underscores.

A name looks like `Acura_ILX_2013_28_16_110_15_4_70_55_179_39_FWD_5_4_4dr_MQf.jpg`: make, model,
year, MSRP, front wheel size, SAE net horsepower, displacement, engine type, width, height,
length, gas mileage, drivetrain, passenger capacity, passenger doors, body style, then a short
random id. Makes and models may hold spaces and hyphens (`Mercedes-Benz_C-Class_...`), never an
underscore; a field the scraper did not find is `nan` and becomes an empty string here.
"""

import re
from pathlib import Path

from cargen.images import IMAGE_EXTENSIONS

FIELDS = (
    "make",
    "model",
    "year",
    "msrp",
    "front_wheel_size",
    "sae_net_horsepower",
    "displacement",
    "engine_type",
    "width",
    "height",
    "length",
    "gas_mileage",
    "drivetrain",
    "passenger_capacity",
    "passenger_doors",
    "body_style",
)

COLUMNS = FIELDS + ("id",)

NUMERIC_FIELDS = frozenset({
    "year", "msrp", "front_wheel_size", "sae_net_horsepower", "displacement", "width",
    "height", "length", "gas_mileage", "passenger_capacity", "passenger_doors",
})

MISSING = "nan"
_NUMBER = re.compile(r"^\d+(\.\d+)?$")
_ID = re.compile(r"^[A-Za-z0-9]+$")
_YEAR = re.compile(r"^\d{4}$")


class CarNameError(ValueError):
    """A file name that is not in The Car Connection format; `str()` says what is wrong."""


def parse_name(name):
    """Parse a picture's file name into a dict of the 16 FIELDS plus `id` (all strings).

    `nan` fields become "". Raises `CarNameError` with the reason when the name does not have
    exactly 17 underscore-separated parts, a numeric field is not a number, the year is not
    four digits, the make or model is missing, or the id is not letters and digits.
    """
    stem = Path(name).name
    if Path(stem).suffix.lower() in IMAGE_EXTENSIONS:
        stem = stem[: -len(Path(stem).suffix)]
    parts = stem.split("_")
    if len(parts) != len(COLUMNS):
        count = len(parts)
        raise CarNameError(
            f"has {count} field{'' if count == 1 else 's'} separated by '_', expected "
            f"{len(COLUMNS)} (make, model, ..., body style, id)")
    record = {}
    for column, value in zip(COLUMNS, parts):
        value = value.strip()
        if value.lower() == MISSING:
            value = ""
        record[column] = value
    for column in ("make", "model", "id"):
        if not record[column]:
            raise CarNameError(f"{column} is missing")
    if not _ID.match(record["id"]):
        raise CarNameError(f"id {record['id']!r} is not letters and digits")
    for column in FIELDS:
        value = record[column]
        if column in NUMERIC_FIELDS and value and not _NUMBER.match(value):
            raise CarNameError(f"{column.replace('_', ' ')} {value!r} is not a number")
    if record["year"] and not _YEAR.match(record["year"]):
        raise CarNameError(f"year {record['year']!r} is not four digits")
    return record


def try_parse_name(name):
    """`(record, None)` for a name that parses, `(None, reason)` for one that does not."""
    try:
        return parse_name(name), None
    except CarNameError as error:
        return None, str(error)


def format_name(record, suffix=".jpg"):
    """The file name for a record (the inverse of `parse_name`; "" fields are written `nan`)."""
    return "_".join(record[column] or MISSING for column in COLUMNS) + suffix
