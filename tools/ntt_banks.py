#!/usr/bin/env python3
"""Shared-memory bank conflicts of the CUDA NTT's rounds (kernels/ntt.cu).

For every phase of the launch plan (src/backend/launch_plan.rs, ntt_phases)
and every round of up to three levels (four with --wide, the NTT_WIDE=1
kernels' 4096-word tile), this replays the shared-memory words that the
threads of each warp touch and reports the worst number of distinct words
that fall on one of the 32 banks (1: conflict-free; k: the access takes k
passes). Rounds of consecutive elements (level distance 1 in a contiguous
tile, G >= 2) use 16-byte accesses, which the hardware serves a
quarter-warp at a time. A phase's first round only stores to the tile and
its last only loads from it (they read and write device memory), with the
same pattern; a phase of one round does not touch the tile, and is listed
all the same. (A conflict-free layout, NTT_BANKS, was measured with no gain
and removed; this tool at 208eaeb replays it.)

    python3 tools/ntt_banks.py            # NTT_TILE 2048, rounds of 3
    python3 tools/ntt_banks.py --wide     # NTT_TILE 4096, rounds of 4
"""

import sys

WIDE = "--wide" in sys.argv[1:]
TILE_LOG = 12 if WIDE else 11  # NTT_TILE = 4096 or 2048 words
ROUND = 4 if WIDE else 3  # NTT_ROUND
WARP = 32
BANKS = 32


def phases(log_n):
    """(stages, log_cols) of each phase, as ntt_phases plans them."""
    contiguous = min(log_n, TILE_LOG)
    strided = log_n - contiguous
    plan = [(contiguous, 0)]
    if strided:
        plan.append((strided, TILE_LOG - strided))
    return plan


def rounds(stages, forward):
    """(levels, lo) of each round, in the kernel's order."""
    out, done = [], 0
    while done < stages:
        g = min(ROUND, stages - done)
        out.append((g, stages - done - g if forward else done))
        done += g
    return out


def worst_conflict(stages, log_cols, g, lo):
    """Worst bank conflict of one round over every warp and element."""
    units = 1 << (stages + log_cols - g)
    if g >= 2 and lo == 0 and log_cols == 0:
        return worst_grouped(units, g)
    worst = 1
    for first in range(0, units, WARP):
        for i in range(1 << g):
            banks = {}
            for u in range(first, min(first + WARP, units)):
                r = u & ((1 << log_cols) - 1)
                ku = u >> log_cols
                base = ((ku >> lo) << (lo + g)) + (ku & ((1 << lo) - 1))
                w = ((base + (i << lo)) << log_cols) + r
                banks.setdefault(w % BANKS, set()).add(w)
            worst = max(worst, max(len(s) for s in banks.values()))
    return worst


def worst_grouped(units, g):
    """Worst conflict of a round of 16-byte accesses: thread u holds the
    elements u * 2^g .. + 2^g - 1, 4 per access, 8 threads per pass."""
    worst = 1
    for first in range(0, units, 8):
        for k in range(0, 1 << g, 4):
            banks = {}
            for u in range(first, min(first + 8, units)):
                w = (u << g) + k
                for j in range(4):
                    banks.setdefault((w + j) % BANKS, set()).add(w + j)
            worst = max(worst, max(len(s) for s in banks.values()))
    return worst


def main():
    for log_n in range(12, 17):
        cells = []
        for stages, log_cols in phases(log_n):
            for forward in (True, False):
                for g, lo in rounds(stages, forward):
                    worst = worst_conflict(stages, log_cols, g, lo)
                    kind = ("tile" if log_cols == 0 else "cols") + (" fwd" if forward else " inv")
                    cells.append(f"{kind} lo={lo} g={g}: {worst}")
        print(f"N=2^{log_n}: " + "; ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
