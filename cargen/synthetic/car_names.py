"""Plausible cars and file names in The Car Connection's format for the synthetic pictures.

Each catalogue row is a real-world kind of car (make, model, body style, typical figures) so a
synthetic picture named `Toyota_RAV4_2017_...` shows an SUV of about a RAV4's size. Names are
made with `cargen.datasets.car_connection.format_name`, so they parse with `parse_name` like real ones:
16 fields and a 3-letter id, some fields `nan` as in the real set.
"""

from dataclasses import dataclass

from cargen.datasets.car_connection import format_name

INCH = 0.0254

# make | model | renderer style | body style field | first-last year | MSRP k$ | wheel in |
# hp | displacement (litres x 10) | cylinders | width in | height in | length in | mpg |
# drivetrain | seats | doors.  "-" = not applicable (electric), written `nan`.
_CATALOGUE = """
Acura|ILX|sedan|4dr|2013-2019|28|17|201|24|4|70|56|182|28|FWD|5|4
Acura|MDX|suv|SUV|2014-2020|45|19|290|35|6|77|67|196|22|AWD|7|4
Alfa Romeo|Giulia|sedan|4dr|2017-2020|40|18|280|20|4|74|57|183|27|RWD|5|4
Aston Martin|Vantage|coupe|2dr|2017-2020|150|20|503|40|8|77|50|175|18|RWD|2|2
Audi|A4|sedan|4dr|2012-2020|38|17|252|20|4|72|56|187|27|AWD|5|4
Audi|A6|sedan|4dr|2013-2019|55|18|335|30|6|74|57|194|24|AWD|5|4
Audi|Q5|suv|SUV|2013-2020|43|19|252|20|4|75|66|184|23|AWD|5|4
Audi|TT|coupe|2dr|2016-2020|46|18|228|20|4|72|53|165|26|AWD|4|2
BMW|3 Series|sedan|4dr|2012-2020|41|17|255|20|4|71|56|185|28|RWD|5|4
BMW|5 Series|sedan|4dr|2014-2020|54|18|248|20|4|74|58|195|27|RWD|5|4
BMW|X5|suv|SUV|2014-2020|60|19|335|30|6|79|69|194|21|AWD|5|4
BMW|4 Series|coupe|2dr|2014-2020|45|18|248|20|4|71|54|182|27|RWD|4|2
Buick|Enclave|suv|SUV|2012-2019|40|19|288|36|6|79|70|201|18|FWD|7|4
Cadillac|CTS|sedan|4dr|2014-2019|47|18|268|20|4|72|57|196|25|RWD|5|4
Cadillac|Escalade|suv|SUV|2015-2020|75|22|420|62|8|81|74|204|17|4WD|7|4
Chevrolet|Malibu|sedan|4dr|2013-2020|23|17|160|15|4|73|57|194|30|FWD|5|4
Chevrolet|Silverado 1500|pickup|Pickup|2014-2020|35|18|355|53|8|80|74|230|18|4WD|5|4
Chevrolet|Equinox|suv|SUV|2012-2020|26|17|170|15|4|72|66|183|28|FWD|5|4
Chevrolet|Camaro|coupe|2dr|2014-2020|27|20|275|20|4|75|53|188|25|RWD|4|2
Chevrolet|Sonic|hatchback|4dr|2012-2020|17|15|138|14|4|68|61|160|30|FWD|5|4
Chrysler|Pacifica|van|Van|2017-2020|35|17|287|36|6|80|70|204|22|FWD|7|4
Dodge|Charger|sedan|4dr|2013-2020|30|18|292|36|6|75|58|199|23|RWD|5|4
Dodge|Grand Caravan|van|Van|2012-2020|27|17|283|36|6|79|69|203|20|FWD|7|4
Fiat|500|hatchback|2dr|2012-2019|17|15|101|14|4|64|60|140|33|FWD|4|2
Ford|F-150|pickup|Pickup|2013-2020|38|18|325|35|6|80|77|232|20|4WD|5|4
Ford|Focus|hatchback|4dr|2012-2018|20|16|160|20|4|72|58|172|30|FWD|5|4
Ford|Fusion|sedan|4dr|2013-2020|24|17|175|25|4|73|58|192|27|FWD|5|4
Ford|Explorer|suv|SUV|2012-2020|34|18|290|35|6|79|70|198|20|FWD|7|4
Ford|Mustang|coupe|2dr|2014-2020|28|18|310|23|4|75|54|189|25|RWD|4|2
Ford|Transit Connect|van|Van|2014-2020|27|16|169|25|4|72|72|190|24|FWD|5|4
GMC|Sierra 1500|pickup|Pickup|2014-2020|38|18|355|53|8|80|74|230|18|4WD|5|4
Honda|Accord|sedan|4dr|2013-2020|26|17|192|15|4|73|57|193|33|FWD|5|4
Honda|Civic|sedan|4dr|2012-2020|21|16|158|20|4|71|56|182|34|FWD|5|4
Honda|CR-V|suv|SUV|2012-2020|27|17|190|15|4|73|66|180|30|AWD|5|4
Honda|Fit|hatchback|4dr|2015-2020|17|15|130|15|4|67|60|161|36|FWD|5|4
Honda|Odyssey|van|Van|2014-2020|32|18|280|35|6|79|70|203|22|FWD|8|4
Hyundai|Elantra|sedan|4dr|2014-2020|19|16|147|20|4|71|56|182|32|FWD|5|4
Hyundai|Santa Fe|suv|SUV|2013-2020|28|18|185|24|4|74|67|188|24|FWD|5|4
Infiniti|Q50|sedan|4dr|2014-2020|37|17|300|30|6|72|57|189|23|RWD|5|4
Jaguar|F-Type|coupe|2dr|2014-2020|70|19|340|30|6|76|51|176|21|RWD|2|2
Jeep|Grand Cherokee|suv|SUV|2012-2020|33|18|295|36|6|76|70|190|21|4WD|5|4
Kia|Optima|sedan|4dr|2013-2020|23|16|185|24|4|73|58|191|28|FWD|5|4
Kia|Soul|hatchback|4dr|2014-2020|18|16|147|20|4|71|63|163|28|FWD|5|4
Kia|Sorento|suv|SUV|2014-2020|27|17|185|24|4|74|67|188|24|FWD|7|4
Land Rover|Range Rover Sport|suv|SUV|2014-2020|68|20|340|30|6|80|71|192|19|4WD|5|4
Lexus|ES|sedan|4dr|2013-2020|40|17|268|35|6|72|57|193|25|FWD|5|4
Lexus|RX|suv|SUV|2013-2020|45|18|295|35|6|75|67|192|22|AWD|5|4
Mazda|MAZDA3|hatchback|4dr|2014-2020|22|16|155|20|4|70|58|175|32|FWD|5|4
Mazda|CX-5|suv|SUV|2013-2020|26|17|187|25|4|73|66|180|28|FWD|5|4
Mazda|MX-5 Miata|coupe|2dr|2016-2020|26|16|155|20|4|68|48|154|30|RWD|2|2
Mercedes-Benz|C-Class|sedan|4dr|2015-2020|42|17|241|20|4|71|57|185|27|RWD|5|4
Mercedes-Benz|E-Class|sedan|4dr|2014-2020|55|18|241|20|4|74|57|194|25|RWD|5|4
Mercedes-Benz|GLE|suv|SUV|2016-2020|55|19|302|30|6|76|70|189|20|AWD|5|4
Mercedes-Benz|Sprinter|van|Van|2014-2019|40|16|161|21|4|79|96|233|nan|RWD|3|4
Mini|Cooper|hatchback|2dr|2014-2020|22|15|134|15|3|68|56|152|32|FWD|4|2
Mitsubishi|Outlander|suv|SUV|2014-2020|24|18|166|24|4|71|67|185|27|FWD|7|4
Nissan|Altima|sedan|4dr|2013-2020|24|17|182|25|4|72|57|192|31|FWD|5|4
Nissan|Rogue|suv|SUV|2014-2020|25|17|170|25|4|72|68|184|29|FWD|5|4
Nissan|Titan|pickup|Pickup|2016-2020|36|18|390|56|8|80|76|228|17|4WD|5|4
Porsche|911|coupe|2dr|2012-2020|92|19|370|30|6|72|51|177|22|RWD|4|2
Porsche|Cayenne|suv|SUV|2015-2020|66|19|335|30|6|78|67|193|21|AWD|5|4
Ram|1500|pickup|Pickup|2013-2020|33|18|305|36|6|80|77|229|19|4WD|6|4
Subaru|Outback|wagon|4dr|2013-2020|27|17|175|25|4|72|66|190|29|AWD|5|4
Subaru|Impreza|sedan|4dr|2012-2020|19|16|152|20|4|70|58|182|31|AWD|5|4
Tesla|Model S|sedan|4dr|2013-2020|75|19|-|-|-|77|57|196|-|AWD|5|4
Tesla|Model X|suv|SUV|2016-2020|85|20|-|-|-|79|66|199|-|AWD|7|4
Toyota|Camry|sedan|4dr|2012-2020|25|17|203|25|4|72|57|192|32|FWD|5|4
Toyota|Corolla|sedan|4dr|2014-2020|19|16|132|18|4|70|57|182|32|FWD|5|4
Toyota|RAV4|suv|SUV|2013-2020|26|17|176|25|4|72|67|181|27|FWD|5|4
Toyota|Tacoma|pickup|Pickup|2016-2020|30|16|278|35|6|75|71|212|20|4WD|5|4
Toyota|Sienna|van|Van|2015-2020|31|17|266|35|6|78|69|200|21|FWD|8|4
Toyota|Prius|hatchback|4dr|2016-2020|25|15|121|18|4|70|58|179|52|FWD|5|4
Volkswagen|Golf|hatchback|4dr|2015-2020|22|16|170|18|4|70|57|168|29|FWD|5|4
Volkswagen|Passat|sedan|4dr|2013-2019|24|17|174|18|4|72|58|191|29|FWD|5|4
Volkswagen|Golf SportWagen|wagon|4dr|2015-2019|23|16|170|18|4|70|59|180|29|FWD|5|4
Volvo|XC90|suv|SUV|2016-2020|50|20|250|20|4|79|69|195|22|AWD|7|4
Volvo|V60|wagon|4dr|2015-2020|40|17|250|20|4|73|58|183|26|AWD|5|4
"""

LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class CarModel:
    """One catalogue row."""

    make: str
    model: str
    style: str
    body_style: str
    first_year: int
    last_year: int
    figures: tuple  # msrp, wheel, hp, displacement, cylinders (strings, "-" = none)
    width_in: int
    height_in: int
    length_in: int
    mileage: str
    drivetrain: str
    seats: str
    doors: str

    @property
    def dimensions(self):
        """(length, width, height) in metres."""
        return self.length_in * INCH, self.width_in * INCH, self.height_in * INCH


def _parse_catalogue(text):
    models = []
    for line in text.strip().splitlines():
        (make, model, style, body, years, msrp, wheel, hp, disp, cyl, width, height, length,
         mpg, drive, seats, doors) = line.split("|")
        first, last = (int(y) for y in years.split("-"))
        models.append(CarModel(make, model, style, body, first, last,
                               (msrp, wheel, hp, disp, cyl), int(width), int(height),
                               int(length), mpg, drive, seats, doors))
    return tuple(models)


CATALOGUE = _parse_catalogue(_CATALOGUE)


def sample_model(rng, style=None):
    """A random catalogue row, of `style` if given."""
    rows = [m for m in CATALOGUE if style is None or m.style == style]
    return rows[int(rng.integers(len(rows)))]


def picture_name(rng, model):
    """A Car Connection file name for a picture of `model`: a random year within its run,
    figures varied a little across years, some fields missing (`nan`) as in the real set."""
    year = int(rng.integers(model.first_year, model.last_year + 1))
    msrp, wheel, hp, disp, cyl = model.figures
    drift = year - model.first_year
    values = {
        "make": model.make,
        "model": model.model,
        "year": str(year),
        "msrp": str(int(msrp) + int(rng.integers(0, 2 + drift))),
        "front_wheel_size": wheel if drift < 3 else str(int(wheel) + int(rng.integers(0, 2))),
        "sae_net_horsepower": "" if hp == "-" else str(int(hp) + 5 * int(rng.integers(0, 3))),
        "displacement": "" if disp == "-" else disp,
        "engine_type": "" if cyl == "-" else cyl,
        "width": str(model.width_in),
        "height": str(model.height_in),
        "length": str(model.length_in + int(rng.integers(-1, 2))),
        "gas_mileage": "" if model.mileage in ("-", "nan") else model.mileage,
        "drivetrain": model.drivetrain,
        "passenger_capacity": model.seats,
        "passenger_doors": model.doors,
        "body_style": model.body_style,
        "id": "".join(LETTERS[i] for i in rng.integers(0, len(LETTERS), 3)),
    }
    for field in ("front_wheel_size", "sae_net_horsepower", "gas_mileage", "width"):
        if rng.random() < 0.03:
            values[field] = ""
    return format_name(values)
