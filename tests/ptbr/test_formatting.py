"""Days, times and periods as the patient reads them."""

from datetime import date, datetime

from clinicbot.ptbr.formatting import PERIOD_PHRASES, clock, day_and_time, long_day, short_day


def test_days_and_times() -> None:
    tuesday = date(2025, 12, 2)
    assert short_day(tuesday) == "terça, 02/12"
    assert long_day(tuesday) == "terça-feira, 02/12"
    assert long_day(date(2025, 12, 6)) == "sábado, 06/12"
    assert clock(datetime(2025, 12, 2, 9, 5)) == "09:05"
    assert day_and_time(datetime(2025, 12, 2, 9, 0)) == "terça-feira, 02/12, às 09:00"


def test_every_period_value_has_a_phrase() -> None:
    assert PERIOD_PHRASES == {"manha": "de manhã", "tarde": "à tarde", "noite": "à noite"}
