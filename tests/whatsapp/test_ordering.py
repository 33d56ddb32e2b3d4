"""Per-key ordering of background jobs, with at most a few jobs per key."""

from __future__ import annotations

import asyncio

from clinicbot.whatsapp.ordering import SerialDispatcher


def test_jobs_of_one_key_run_in_order_and_a_full_key_refuses_more() -> None:
    async def main() -> list[str]:
        dispatcher = SerialDispatcher(max_per_key=2)
        release = asyncio.Event()
        ran: list[str] = []

        def job(name: str, wait: bool = False):
            async def run() -> None:
                if wait:
                    await release.wait()
                ran.append(name)

            return run

        first = dispatcher.submit("a", job("a1", wait=True))
        second = dispatcher.submit("a", job("a2"))
        assert first is not None and second is not None
        assert dispatcher.is_full("a")
        assert dispatcher.submit("a", job("a3")) is None
        other = dispatcher.submit("b", job("b1"))  # another key is not held up
        assert other is not None
        await other
        assert ran == ["b1"]
        release.set()
        await asyncio.wait([first, second])
        assert not dispatcher.is_full("a")
        again = dispatcher.submit("a", job("a4"))
        assert again is not None
        await again
        return ran

    assert asyncio.run(main()) == ["b1", "a1", "a2", "a4"]


def test_a_failing_job_does_not_block_the_next() -> None:
    async def main() -> list[str]:
        dispatcher = SerialDispatcher()
        ran: list[str] = []

        async def fails() -> None:
            raise RuntimeError("boom")

        async def works() -> None:
            ran.append("after")

        dispatcher.submit("a", fails)
        last = dispatcher.submit("a", works)
        assert last is not None
        await last
        return ran

    assert asyncio.run(main()) == ["after"]
