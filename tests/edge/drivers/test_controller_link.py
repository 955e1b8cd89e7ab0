"""The controller link end to end on a faulty line: nothing lost, nothing repeated, in order.

The host side is ``edge.drivers.controller_link.HostLink``; the board side is the firmware's
own ``link.py`` (pure Python that MicroPython and CPython both run), so these tests exercise
the two real implementations against each other.
"""

from __future__ import annotations

import pytest

from tests.edge.drivers.lossy_channel import Faults, LinkBench, message_number, numbered_message

CLEAN = Faults()
NASTY = Faults(drop=0.05, duplicate=0.05, corrupt=0.05, reorder=0.05, garbage=0.03)


def run_traffic(
    bench: LinkBench, count: int, *, limit_ms: int = 600_000, board_only: bool = False
) -> None:
    """Push ``count`` numbered messages each way (with backpressure) until all arrive."""
    to_host = [numbered_message(i, bench.rng) for i in range(count)]
    to_board = [] if board_only else [numbered_message(i, bench.rng) for i in range(count)]
    next_up = next_down = 0
    deadline = bench.now + limit_ms
    while bench.now < deadline:
        while next_up < count:
            m = to_host[next_up]
            if not bench.board.link.send(m, 0, len(m)):
                break
            next_up += 1
        while next_down < len(to_board) and bench.host.unacknowledged < 40:
            bench.host.send(to_board[next_down])
            next_down += 1
        bench.step()
        if len(bench.host_received) >= count and len(bench.board.received) >= len(to_board):
            break
    assert bench.host_received == to_host
    assert bench.board.received == to_board


def test_clean_line_delivers_everything_in_order() -> None:
    bench = LinkBench(CLEAN, seed=1)
    run_traffic(bench, 2000)
    assert bench.host.stats.retransmits == 0
    assert bench.board.link.retransmits == 0


@pytest.mark.parametrize("seed", [3, 17, 99])
def test_faulty_line_loses_nothing_and_keeps_order(seed: int) -> None:
    bench = LinkBench(NASTY, seed=seed)
    run_traffic(bench, 3000)
    stats = bench.host.stats
    assert stats.crc_errors > 0 and stats.retransmits > 0 and bench.board.link.retransmits > 0


def test_heavy_loss_still_gets_through() -> None:
    bench = LinkBench(Faults(drop=0.25, corrupt=0.1), seed=5)
    run_traffic(bench, 500)


def test_ticks_wrap_around_does_not_stall_the_board() -> None:
    bench = LinkBench(NASTY, seed=8, start_ms=(1 << 30) - 1500)
    run_traffic(bench, 1000)


def test_rtt_estimate_follows_the_line() -> None:
    bench = LinkBench(CLEAN, seed=2)
    run_traffic(bench, 300)
    srtt = bench.host.stats.srtt
    assert srtt is not None and 0.001 < srtt < 0.2
    assert 0.03 <= bench.host.stats.rto < 0.5


def test_board_reboot_starts_a_new_session() -> None:
    bench = LinkBench(NASTY, seed=11)
    run_traffic(bench, 500)
    bench.reboot_board()
    bench.host_received.clear()
    run_traffic(bench, 500)
    assert bench.host.stats.syncs >= 2
    assert bench.host.stats.board_resets == 1


def test_host_restart_gets_what_the_board_had_not_delivered() -> None:
    bench = LinkBench(CLEAN, seed=12)
    run_traffic(bench, 200, board_only=True)
    # Queue more on the board, then the host process dies before anything is acknowledged.
    extra = [numbered_message(1000 + i, bench.rng) for i in range(20)]
    for m in extra:
        assert bench.board.link.send(m, 0, len(m))
    bench.restart_host()
    bench.host_received.clear()
    for _ in range(3000):
        bench.step()
    assert [message_number(m) for m in bench.host_received] == [1000 + i for i in range(20)]


def test_board_applies_backpressure_when_the_host_is_gone() -> None:
    bench = LinkBench(CLEAN, seed=13)
    run_traffic(bench, 10, board_only=True)
    bench.to_host.faults = Faults(drop=1.0)
    accepted = 0
    while bench.board.link.send(b"\x42\x02ab", 0, 4):
        accepted += 1
        bench.step()
    assert 0 < accepted < 400
