"""Quiet hours: when a message may go out."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.services.notify_support import POLICY, at


@pytest.mark.parametrize(
    ("moment", "quiet", "next_send"),
    [
        (at(0, 20, 59), False, at(0, 20, 59)),
        (at(0, 21), True, at(1, 8)),
        (at(0, 23, 30), True, at(1, 8)),
        (at(1, 3), True, at(1, 8)),
        (at(1, 8), False, at(1, 8)),
    ],
)
def test_quiet_hours(moment: datetime, quiet: bool, next_send: datetime) -> None:
    assert POLICY.is_quiet(moment) is quiet
    assert POLICY.next_sending_time(moment) == next_send
