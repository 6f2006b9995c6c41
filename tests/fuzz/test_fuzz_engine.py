# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fuzzing the engine: generated and mutated inventories never crash it, every error names a
location, and every accepted inventory renders files within the rendering contract that the
host module's parser accepts (fuzz_engine.py says what is generated).

Every run checks ``CASES`` cases of a fixed seed and ``RANDOM_CASES`` of a seed drawn for the run
and printed on failure. To reproduce: ``PALISADE_FUZZ_SEED=<seed>`` (that seed instead of a random
one), and ``PALISADE_FUZZ_CASE=<n>`` to run only case n of it.
"""

from __future__ import annotations

import multiprocessing
import os
import random
from concurrent.futures import ProcessPoolExecutor

import fuzz_engine
import pytest

CASES = 20000
RANDOM_CASES = 1000
CHUNK = 500


def run_seed(seed: int, cases: int) -> dict:
    """Outcome counts of ``cases`` cases of ``seed``, spread over the machine's cores."""
    workers = max(1, min(4, os.cpu_count() or 1))
    chunks = [(seed, first, min(CHUNK, cases - first)) for first in range(0, cases, CHUNK)]
    outcomes: dict = {}
    failures: list = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
        for chunk_outcomes, chunk_failures in pool.map(fuzz_engine.run_chunk, *zip(*chunks)):
            for outcome, count in chunk_outcomes.items():
                outcomes[outcome] = outcomes.get(outcome, 0) + count
            failures.extend(chunk_failures)
    print(f"seed {seed}: {cases} cases: {dict(sorted(outcomes.items()))}")
    if failures:
        shown = "\n".join(failures[:10])
        pytest.fail(f"seed {seed}: {len(failures)} of {cases} cases broke the engine's contract (first 10):\n{shown}")
    return outcomes


def test_fixed_seed():
    outcomes = run_seed(fuzz_engine.FIXED_SEED, CASES)
    # the generator reaches both sides: accepted inputs are rendered, invalid ones reported
    assert outcomes.get("accepted", 0) > CASES // 10 and outcomes.get("invalid", 0) > CASES // 10


def test_random_seed():
    chosen = os.environ.get("PALISADE_FUZZ_SEED")
    seed = int(chosen) if chosen else random.SystemRandom().randrange(2**32)
    single = os.environ.get("PALISADE_FUZZ_CASE")
    if single is not None:
        outcome, _rendered = fuzz_engine.run_case(seed, int(single))
        print(f"seed {seed} case {single}: {outcome}")
        return
    run_seed(seed, RANDOM_CASES)
