from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from xmlmigrate.contract import converters as tf
from xmlmigrate.contract.errors import InvalidValue


def test_int() -> None:
    conv = tf.to_int()
    assert conv("42") == 42
    assert conv("-7") == -7
    for bad in ("4.2", "1_000", "12a", "", "２"):
        with pytest.raises(InvalidValue):
            conv(bad)
    with pytest.raises(InvalidValue, match="out of range"):
        conv(str(2**31))
    assert tf.to_int(tf.INT64)(str(2**31)) == 2**31


def test_decimal_quantizes_and_checks_precision() -> None:
    conv = tf.to_decimal(7, 2)
    assert conv("13.6") == Decimal("13.60")
    assert conv("6250") == Decimal("6250.00")
    assert conv("999.995") == Decimal("1000.00")  # half-up
    assert conv("1,250.5") == Decimal("1250.50")
    with pytest.raises(InvalidValue, match="too large"):
        conv("100000")
    for bad in ("Up to $40", "NaN", "Infinity", "abc"):
        with pytest.raises(InvalidValue):
            conv(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("01/25/2016", date(2016, 1, 25)),
        ("1/5/2016", date(2016, 1, 5)),
        ("2016-01-25", date(2016, 1, 25)),
        ("2016-1-25 11:21:33.570", date(2016, 1, 25)),
    ],
)
def test_date_formats(text: str, expected: date) -> None:
    assert tf.to_date()(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2016-1-25 11:21:33.570", datetime(2016, 1, 25, 11, 21, 33, 570000)),
        ("2016-01-25 09:05:07", datetime(2016, 1, 25, 9, 5, 7)),
        ("2016-01-25T09:05", datetime(2016, 1, 25, 9, 5)),
        ("2016-01-25", datetime(2016, 1, 25)),
        ("01/25/2016", datetime(2016, 1, 25)),
        ("1/25/2016 7:08:09", datetime(2016, 1, 25, 7, 8, 9)),
    ],
)
def test_datetime_formats(text: str, expected: datetime) -> None:
    assert tf.to_datetime()(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "1978.05.10",
        "2016-1-25 11:21:88.000",
        "13/01/2016",
        "02/30/2016",
        "yesterday",
        "6/1/2020 13:12:15 PM",  # a 12-hour clock has no 13
        "6/1/2020 0:12:15 AM",
        "05-10/1978",  # mixed separators
    ],
)
def test_bad_dates_are_invalid(text: str) -> None:
    with pytest.raises(InvalidValue):
        tf.to_datetime()(text)


def test_bit() -> None:
    conv = tf.to_bit()
    for text in ("Y", "y", "yes", "TRUE", "true", "1", "T"):
        assert conv(text) is True
    for text in ("N", "no", "false", "0", "F"):
        assert conv(text) is False
    with pytest.raises(InvalidValue, match="not a flag"):
        conv("U")


def test_enum() -> None:
    conv = tf.to_enum({"PR": 281, "AUTHU": 280}, "contact_type")
    assert conv("PR") == 281
    assert conv("authu") == 280
    with pytest.raises(InvalidValue, match="unknown contact_type code 'WEIRD'"):
        conv("WEIRD")


def test_a_clamped_date_is_a_returned_value_not_an_exception() -> None:
    result = tf.to_date(clamp=True)("02/30/2016")
    assert isinstance(result, tf.Clamped) and result.value == date(2016, 2, 29)
    assert "clamped to 2016-02-29" in str(result)
    assert tf.to_date(clamp=True)("02/28/2016") == date(2016, 2, 28)
    with pytest.raises(InvalidValue, match="impossible date"):
        tf.to_date(clamp=False)("02/30/2016")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("6/1/2020 10:12:15 PM", datetime(2020, 6, 1, 22, 12, 15)),
        ("6/1/2020 10:12:15 am", datetime(2020, 6, 1, 10, 12, 15)),
        ("6/1/2020 12:00:00 AM", datetime(2020, 6, 1, 0, 0, 0)),
        ("6/1/2020 12:30:00 PM", datetime(2020, 6, 1, 12, 30, 0)),
        ("05-10-1978", datetime(1978, 5, 10)),  # month first, as real documents write it
        ("2016-1-25 11:21:37.976", datetime(2016, 1, 25, 11, 21, 37, 976000)),
    ],
)
def test_real_date_formats_are_read(text: str, value: datetime) -> None:
    assert tf.to_datetime()(text) == value
    assert tf.to_date()(text) == value.date()
