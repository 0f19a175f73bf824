from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.netsugen_booking.billing.tax import (
    TaxRounding,
    consumption_tax_included,
    corporate_number_check_digit,
    validate_registration_number,
)

# --- consumption tax ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (1_000, 90),  # 90.909...
        (25_000, 2_272),  # 2272.727...
        (10_000, 909),  # 909.090...
        (250, 22),  # 22.727...
        (1_100, 100),  # exact
        (110, 10),  # exact
        (1, 0),
        (0, 0),
    ],
)
def test_tax_included_floor_default(total: int, expected: int) -> None:
    assert consumption_tax_included(total) == expected
    assert consumption_tax_included(total, rate_percent=10, rounding="floor") == expected


@pytest.mark.parametrize(
    ("total", "rounding", "expected"),
    [
        (1_000, "ceil", 91),
        (1_000, "round_half_up", 91),
        (25_000, "ceil", 2_273),
        (25_000, "round_half_up", 2_273),
        (10_000, "ceil", 910),
        (10_000, "round_half_up", 909),
        (1_100, "ceil", 100),
        (1_100, "round_half_up", 100),
        (1, "ceil", 1),
        (1, "round_half_up", 0),  # 0.0909
        (6, "round_half_up", 1),  # 0.5454
        (5, "round_half_up", 0),  # 0.4545
        (0, "ceil", 0),
    ],
)
def test_tax_included_other_roundings(total: int, rounding: TaxRounding, expected: int) -> None:
    assert consumption_tax_included(total, rounding=rounding) == expected


def test_exact_half_rounds_up() -> None:
    # With a 100% rate the tax is total / 2, so an odd total lands exactly on .5
    assert consumption_tax_included(1, rate_percent=100, rounding="round_half_up") == 1
    assert consumption_tax_included(3, rate_percent=100, rounding="round_half_up") == 2
    assert consumption_tax_included(3, rate_percent=100, rounding="floor") == 1
    assert consumption_tax_included(3, rate_percent=100, rounding="ceil") == 2


def test_reduced_rate_and_zero_rate() -> None:
    assert consumption_tax_included(1_080, rate_percent=8) == 80
    assert consumption_tax_included(1_000, rate_percent=8) == 74  # 74.07
    assert consumption_tax_included(1_000, rate_percent=8, rounding="ceil") == 75
    assert consumption_tax_included(1_000, rate_percent=0, rounding="ceil") == 0


def test_monthly_prices_from_the_domain() -> None:
    assert consumption_tax_included(25_000) == 2_272  # corporate monthly
    assert consumption_tax_included(10_000) == 909  # individual monthly
    assert consumption_tax_included(1_000) == 90  # drop-in daily cap


def test_tax_is_per_invoice_not_per_line() -> None:
    lines = [250, 250, 250]
    per_invoice = consumption_tax_included(sum(lines))  # 750 -> 68.18 -> 68
    per_line = sum(consumption_tax_included(x) for x in lines)  # 3 * 22 = 66
    assert per_invoice == 68
    assert per_line == 66


def test_credit_note_mirrors_invoice() -> None:
    assert consumption_tax_included(-1_000) == -90
    assert consumption_tax_included(-25_000, rounding="ceil") == -2_273
    assert consumption_tax_included(-6, rounding="round_half_up") == -1


def test_tax_input_validation() -> None:
    with pytest.raises(ValueError, match="rounding"):
        consumption_tax_included(1_000, rounding="bankers")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rate_percent"):
        consumption_tax_included(1_000, rate_percent=-10)
    with pytest.raises(TypeError):
        consumption_tax_included(1000.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        consumption_tax_included(True)
    with pytest.raises(TypeError):
        consumption_tax_included(1_000, rate_percent=Fraction(10))  # type: ignore[arg-type]


_DECIMAL_ROUNDING: dict[str, str] = {
    "floor": ROUND_FLOOR,
    "ceil": ROUND_CEILING,
    "round_half_up": ROUND_HALF_UP,
}


@given(
    total=st.integers(min_value=0, max_value=10**15),
    rate=st.integers(min_value=0, max_value=100),
    rounding=st.sampled_from(["floor", "ceil", "round_half_up"]),
)
def test_tax_matches_decimal_oracle(total: int, rate: int, rounding: TaxRounding) -> None:
    with localcontext() as ctx:
        ctx.prec = 60
        exact = Decimal(total * rate) / Decimal(100 + rate)
        expected = int(exact.quantize(Decimal(1), rounding=_DECIMAL_ROUNDING[rounding]))
    assert consumption_tax_included(total, rate_percent=rate, rounding=rounding) == expected


@given(total=st.integers(min_value=-(10**12), max_value=10**12))
def test_tax_rounding_relations(total: int) -> None:
    exact = Fraction(abs(total) * 10, 110)
    floor = consumption_tax_included(total, rounding="floor")
    ceil = consumption_tax_included(total, rounding="ceil")
    half = consumption_tax_included(total, rounding="round_half_up")
    assert abs(floor) <= exact <= abs(ceil)
    assert abs(ceil) - abs(floor) in (0, 1)
    assert abs(floor) <= abs(half) <= abs(ceil)
    assert abs(Fraction(abs(half)) - exact) <= Fraction(1, 2)
    assert consumption_tax_included(-total) == -floor
    assert 0 <= abs(floor) <= abs(total)


# --- registration numbers ---------------------------------------------------------------


def test_known_registration_number() -> None:
    # T8000012010038: base digits 000012010038, read from the right:
    # 8*1 + 3*2 + 0*1 + 0*2 + 1*1 + 0*2 + 2*1 + 1*2 + 0 + 0 + 0 + 0 = 19
    # 19 mod 9 = 1 -> check digit 9 - 1 = 8, which is the leading digit.
    assert corporate_number_check_digit("000012010038") == 8
    assert validate_registration_number("T8000012010038") == "T8000012010038"


@pytest.mark.parametrize(
    ("base", "check"),
    [
        # 2+2+0+18+8+14+6+10+4+6+2+2 = 74, 74 mod 9 = 2 -> 7
        ("123456789012", 7),
        # 2*1 + 0*2 + 0*1 + 0*2 + 5*1 + 0*2 + 2*1 + 1*2 = 11 -> 11 mod 9 = 2 -> 7
        ("000012050002", 7),
        # 1 + 14 + 7 + 16 + 1 + 0 + 1 + 0 + 3 + 0 + 8 + 2 = 53 -> 53 mod 9 = 8 -> 1
        ("180301018771", 1),
        ("000000000000", 9),  # sum 0 -> 9
        ("999999999999", 9),  # 6*9 + 6*18 = 162 = 18*9 -> 9
        ("000000000001", 8),  # lowest digit has weight 1
        ("000000000010", 7),  # second-lowest digit has weight 2
        ("100000000000", 7),  # 12th digit from the right is even -> weight 2
        ("000000000008", 1),  # sum 8 -> 9 - 8 = 1
    ],
)
def test_constructed_registration_numbers(base: str, check: int) -> None:
    assert corporate_number_check_digit(base) == check
    number = f"T{check}{base}"
    assert validate_registration_number(number) == number


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("8000012010038", "expected 'T'"),  # no T
        ("t8000012010038", "expected 'T'"),  # lower-case t
        ("Ｔ8000012010038", "expected 'T'"),  # full-width T
        ("T800001201003", "expected 'T'"),  # 12 digits
        ("T80000120100380", "expected 'T'"),  # 14 digits
        ("T", "expected 'T'"),
        ("", "expected 'T'"),
        ("T80000120100A8", "expected 'T'"),  # letter
        ("T8000-01201-0038", "expected 'T'"),  # separators
        ("T 8000012010038", "expected 'T'"),  # inner space
        (" T8000012010038", "expected 'T'"),  # leading space
        ("T8000012010038 ", "expected 'T'"),  # trailing space
        ("T8000012010038\n", "expected 'T'"),  # trailing newline
        ("T８００００１２０１００３８", "expected 'T'"),  # full-width digits
        ("T٨٠٠٠٠١٢٠١٠٠٣٨", "expected 'T'"),  # Arabic-Indic digits
        ("T9000012010038", "check digit is 9, expected 8"),
        ("T7000012010038", "check digit is 7, expected 8"),
        ("T8000012010039", "check digit is 8, expected 7"),
        ("T0000000000000", "check digit is 0, expected 9"),
        ("T8123456789012", "check digit is 8, expected 7"),
    ],
)
def test_invalid_registration_numbers(value: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as excinfo:
        validate_registration_number(value)
    assert "invalid registration number" in str(excinfo.value)


def test_non_string_registration_number() -> None:
    with pytest.raises(ValueError, match="must be a string"):
        validate_registration_number(8000012010038)  # type: ignore[arg-type]


def test_check_digit_needs_twelve_ascii_digits() -> None:
    for bad in ("", "12345678901", "1234567890123", "12345678901a", "１２３４５６７８９０１２"):
        with pytest.raises(ValueError, match="exactly 12 ASCII digits"):
            corporate_number_check_digit(bad)


_bases = st.text(alphabet="0123456789", min_size=12, max_size=12)


@given(base=_bases)
def test_exactly_one_check_digit_is_valid(base: str) -> None:
    check = corporate_number_check_digit(base)
    assert 1 <= check <= 9
    valid = [d for d in range(10) if _is_valid(f"T{d}{base}")]
    assert valid == [check]


@given(base=_bases, position=st.integers(min_value=0, max_value=11), delta=st.integers(1, 8))
def test_single_digit_change_is_detected(base: str, position: int, delta: int) -> None:
    # Changing one base digit keeps the number valid exactly when the weighted
    # sum moves by a multiple of 9 (e.g. 0 <-> 9 at a weight-1 position).
    digit = int(base[position])
    new_digit = (digit + delta) % 10
    weight = 1 if (12 - position) % 2 == 1 else 2
    shift = (new_digit - digit) * weight
    changed = base[:position] + str(new_digit) + base[position + 1 :]
    number = f"T{corporate_number_check_digit(base)}{changed}"
    assert _is_valid(number) == (shift % 9 == 0)


def _is_valid(value: str) -> bool:
    try:
        validate_registration_number(value)
    except ValueError:
        return False
    return True
