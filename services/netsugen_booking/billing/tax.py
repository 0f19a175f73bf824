"""Japanese consumption-tax and qualified-invoice (適格請求書) helpers.

Pure functions, integers only (no floats).  Prices are tax-inclusive (総額表示);
the tax is computed once per invoice per rate, never per line, with a rounding
method the issuer chooses and keeps.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Literal

__all__ = [
    "REGISTRATION_NUMBER_PATTERN",
    "TaxRounding",
    "consumption_tax_included",
    "corporate_number_check_digit",
    "validate_registration_number",
]

TaxRounding = Literal["floor", "round_half_up", "ceil"]

# ASCII only: str.isdigit()/\d would also accept full-width and other Unicode digits.
REGISTRATION_NUMBER_PATTERN = re.compile(r"T[0-9]{13}")


def _round(value: Fraction, rounding: TaxRounding) -> int:
    """Round a non-negative fraction to an int."""
    if rounding == "floor":
        return value.numerator // value.denominator
    if rounding == "ceil":
        return -(-value.numerator // value.denominator)
    if rounding == "round_half_up":
        shifted = value + Fraction(1, 2)
        return shifted.numerator // shifted.denominator
    raise ValueError(f"rounding must be 'floor', 'round_half_up' or 'ceil', got {rounding!r}")


def consumption_tax_included(
    total_incl_yen: int, *, rate_percent: int = 10, rounding: TaxRounding = "floor"
) -> int:
    """Consumption tax contained in a tax-inclusive total (one rate, one invoice).

    ``rounding(total * rate / (100 + rate))``, exact with integers/Fraction:
    1,000円 -> 90, 25,000円 -> 2,272, 10,000円 -> 909 (10%, floor).

    A negative total (a credit note, 返還インボイス) is rounded by magnitude so it
    mirrors the original invoice exactly: -1,000円 -> -90 with "floor".
    """
    for name, value in (("total_incl_yen", total_incl_yen), ("rate_percent", rate_percent)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if rate_percent < 0:
        raise ValueError("rate_percent must not be negative")
    sign = -1 if total_incl_yen < 0 else 1
    exact = Fraction(abs(total_incl_yen) * rate_percent, 100 + rate_percent)
    return sign * _round(exact, rounding)


def corporate_number_check_digit(base12: str) -> int:
    """Check digit of a 13-digit 法人番号 from its 12 base digits (National Tax Agency rule).

    ``9 - (sum(P_n * Q_n for n in 1..12) mod 9)`` where ``P_n`` is the n-th base
    digit counted from the lowest (rightmost) and ``Q_n`` is 1 for odd n, 2 for even n.
    """
    if len(base12) != 12 or not all("0" <= c <= "9" for c in base12):
        raise ValueError(f"base must be exactly 12 ASCII digits, got {base12!r}")
    total = sum(int(digit) * (1 if n % 2 == 1 else 2) for n, digit in enumerate(reversed(base12), start=1))
    return 9 - total % 9


def validate_registration_number(value: str) -> str:
    """Return ``value`` if it is a valid qualified-invoice registration number.

    The format is "T" followed by 13 ASCII digits whose first digit is the check
    digit of the remaining 12 (see :func:`corporate_number_check_digit`).  No
    normalisation is done (no stripping, no lower-case "t", no full-width digits);
    anything else raises ``ValueError``.
    """
    if not isinstance(value, str):
        raise ValueError(f"registration number must be a string, got {type(value).__name__}")
    if REGISTRATION_NUMBER_PATTERN.fullmatch(value) is None:
        raise ValueError(
            f"invalid registration number {value!r}: expected 'T' followed by "
            f"13 ASCII digits (e.g. T8000012010038)"
        )
    digits = value[1:]
    expected = corporate_number_check_digit(digits[1:])
    if int(digits[0]) != expected:
        raise ValueError(
            f"invalid registration number {value!r}: check digit is {digits[0]}, expected {expected}"
        )
    return value
