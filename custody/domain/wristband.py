"""What a recipient's wristband barcode carries, and reading it back at the bedside.

The wristband is ISBT 128: a Patient Identification Number (`&#aall` + the hospital record
number, ST-001 2.4.25) followed by the Patient Date of Birth (`=#aayyyymmdd`, 2.4.24), so that
one scan gives the two identifiers FACT-JACIE practice asks the bedside to match, and a
scanner reading the two as one concatenated string still splits them without separators.

Pure Python: no Flask, no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from custody.domain.errors import InvalidBarcode
from custody.domain.isbt128 import parse

# The `aa` location code: which registry issued the patient number (00 = this hospital's).
DEFAULT_LOCATION = "00"
MAX_PATIENT_NUMBER = 99


@dataclass(frozen=True)
class WristbandIdentity:
    patient_number: str
    birth_date: date


def check_patient_number(number: str) -> str:
    """A hospital record number a wristband can carry: 1-99 letters and digits."""
    number = number.strip()
    if (
        not number
        or len(number) > MAX_PATIENT_NUMBER
        or not number.isascii()
        or not number.isalnum()
    ):
        raise InvalidBarcode(
            f"Hospital record number {number!r} cannot go on a wristband: it must be 1 to "
            f"{MAX_PATIENT_NUMBER} letters and digits, with no spaces or punctuation.",
            field="hospital_record_number",
        )
    return number


def wristband_data(patient_number: str, birth_date: date, location: str = DEFAULT_LOCATION) -> str:
    """`&#aall<number>=#aayyyymmdd`: the string the wristband's barcode encodes."""
    number = check_patient_number(patient_number)
    return f"&#{location}{len(number):02d}{number}=#{location}{birth_date:%Y%m%d}"


def read_wristband(raw: object) -> WristbandIdentity:
    """The patient number and date of birth a wristband scan carries, or InvalidBarcode."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidBarcode("Scan the recipient's wristband: nothing was read.", field="recipient")
    read = parse(raw.strip())
    # Exactly one of each: a scan carrying two patient numbers (two labels read as one) must
    # never pass on whichever came last.
    names = [s.name for s in read]
    if sorted(names) != ["patient_date_of_birth", "patient_id"]:
        found = ", ".join(n.replace("_", " ") for n in names) or "nothing"
        raise InvalidBarcode(
            "That is not a wristband: a wristband carries the patient number and the date of "
            f"birth, and this scan holds {found}. Scan the barcode on the recipient's wristband.",
            field="recipient",
        )
    fields = {s.name: s.fields for s in read}
    return WristbandIdentity(
        patient_number=fields["patient_id"]["patient_id"],
        birth_date=date.fromisoformat(fields["patient_date_of_birth"]["date_of_birth"]),
    )
