"""Reference tables printed in ISBT 128 ST-001 v6.2.2 that the parser uses to explain what it read.

Only tables published in the Technical Specification itself are here. The licensed ICCBBA
databases (Product Description Codes, Registered Facilities, Special Testing) are never shipped:
product codes are configured by the facility.
"""

from __future__ import annotations

# ST-001 Table 3 [RT004]: DIN flag characters ff, values 01-19 (Type 1, defined by ICCBBA).
FLAG_MEANINGS: dict[str, str] = {
    "00": "flag not used",
    "01": "container 1 of a set",
    "02": "container 2 of a set",
    "03": "container 3 of a set",
    "04": "container 4 of a set",
    "05": "second (or repeated) demand-printed label",
    "06": "pilot tube label",
    "07": "test tube label",
    "08": "donor record label",
    "09": "sample tube for NAT testing",
    "10": "samples for bacterial testing",
    "11": "match with unit label",
    "12": "affixed partial label",
    "13": "attached label (used with an affixed partial label)",
    "15": "container 5 of a set",
    "16": "container 6 of a set",
    "17": "container 7 of a set",
    "18": "container 8 of a set",
    "19": "container 9 of a set",
}
CONTAINER_FLAGS: dict[str, int] = {
    "01": 1, "02": 2, "03": 3, "04": 4, "15": 5, "16": 6, "17": 7, "18": 8, "19": 9,
}  # fmt: skip

# ST-001 Table 7 [RT008]: type of collection, 6th character of the Product Code.
COLLECTION_TYPES: dict[str, str] = {
    "0": "not specified",
    "V": "volunteer homologous (allogeneic)",
    "R": "volunteer research (not for human application)",
    "S": "volunteer source",
    "T": "volunteer therapeutic",
    "P": "paid homologous (allogeneic)",
    "r": "paid research (not for human application)",
    "s": "paid source",
    "A": "autologous, eligible for crossover",
    "1": "for autologous use only",
    "X": "for autologous use only, biohazard",
    "D": "volunteer directed, eligible for crossover",
    "d": "paid directed, eligible for crossover",
    "2": "for directed recipient use only",
    "L": "for directed recipient use only, limited exposure",
    "E": "medical exception, for specified recipient only (allogeneic)",
    "Q": "see (scan) the special testing barcode",
    "3": "for directed recipient use only, biohazard",
    "4": "designated",
    "5": "dedicated",
    "6": "designated, biohazard",
    "F": "family reserved",
    "C": "replacement",
    "7": "for allogeneic use",
    "8": "for autologous use, contains allogeneic material",
    "B": "directed/dedicated/designated collection use only",
    "H": "directed/dedicated/designated collection, biohazardous",
    "J": "directed/dedicated/designated collection, eligible for crossover",
    "G": "for emergency use only",
}

# ST-001 2.4.3 mapping of the first Product Code character to the type of product.
PRODUCT_CATEGORIES: dict[str, str] = {
    "E": "blood",
    "F": "blood",
    "H": "MPHO with INN or USAN name",
    "M": "other therapies",
    "N": "organ",
    "P": "regenerated tissue",
    "R": "reproductive tissue",
    "S": "cellular therapy",
    "T": "tissue",
    "V": "ocular tissue",
    "W": "fecal microbiota",
    "X": "other blood product",
    "Y": "clinical trial",
    "A": "national",
    "B": "national",
    "C": "national",
    "D": "local",
}

# ST-001 Table 4 [RT005] (the rows without pooled or para-Bombay groups): ABO/RhD x intended use.
BLOOD_GROUP_USES = (
    "intended use not specified",
    "directed collection use only",
    "for emergency use only",
    "directed collection, biohazardous",
    "directed collection, eligible for crossover",
    "autologous collection, eligible for crossover",
    "for autologous use only",
    "for autologous use only, biohazardous",
)
_BLOOD_GROUP_ROWS = {
    "O RhD negative": "95 91 92 93 94 96 97 98",
    "O RhD positive": "51 47 48 49 50 52 53 54",
    "A RhD negative": "06 02 03 04 05 07 08 09",
    "A RhD positive": "62 58 59 60 61 63 64 65",
    "B RhD negative": "17 13 14 15 16 18 19 20",
    "B RhD positive": "73 69 70 71 72 74 75 76",
    "AB RhD negative": "28 24 25 26 27 29 30 31",
    "AB RhD positive": "84 80 81 82 83 85 86 87",
    "O": "55 P2 P3 P4 P5 P7 P8 P9",
    "A": "66 A2 A3 A4 A5 A7 A8 A9",
    "B": "77 B2 B3 B4 B5 B7 B8 B9",
    "AB": "88 C2 C3 C4 C5 C7 C8 C9",
}
BLOOD_GROUPS: dict[str, tuple[str, str]] = {
    code: (group, BLOOD_GROUP_USES[column])
    for group, codes in _BLOOD_GROUP_ROWS.items()
    for column, code in enumerate(codes.split())
}
# ST-001 Table 5 [RT006]: special messages in place of a blood group (T1-T6: tissues only).
BLOOD_GROUP_MESSAGES: dict[str, str] = {
    "00": "no ABO or Rh information is available",
    "Ma": "autologous collection",
    "Mb": "biohazardous",
    "Md": "discard (to be destroyed)",
    "Mf": "for fractionation use only",
    "Mq": "quarantine/hold for further testing or processing",
    "Mr": "for research use only",
    "Mx": "not for transfusion based on test results",
    "T1": "ABO not specified, RhD positive",
    "T2": "ABO not specified, RhD negative",
    "T3": "ABO not specified, RhD not specified",
    "T4": "autologous collection/in quarantine",
    "T5": "see outer packaging for product status",
    "T6": "must be sterilized before release",
}

# ST-001 Table 2 [RT003]: ISBT 128 data identifiers this system recognises but does not read,
# so a person who scans the wrong barcode on a label is told which one it was.
OTHER_IDENTIFIERS: dict[str, str] = {
    "&(": "special testing",
    "={": "red blood cell antigens (retired)",
    "=\\": "red blood cell antigens",
    "&\\": "red blood cell antigens (Finnish)",
    "&{": "platelet HLA and platelet-specific antigens",
    "=[": "HLA-A and -B alleles (retired)",
    '="': "HLA-DRB1 alleles (retired)",
    "=)": "container manufacturer and catalog number",
    "&)": "container lot number",
    "=;": "donor identification number",
    "=-": "manufacturer and catalog number",
    "&-": "manufacturer's lot number",
    "=]": "expiration month and year",
    '&"': "infectious disease marker",
    "=$": "product consignment",
    "&$": "dimensions",
    "&%": "red cell antigens with test history",
    "=(": "flexible date and time",
    "&+": "processing facility information code",
    "=/": "processor product identification code",
    "&,": "MPHO lot, supplemental identification or Single European Code",
    "&:": "global registration identifier for donors (GRID)",
    "&;": "nationally defined donor identification number",
    "&!": "confidential unit exclusion status",
}
