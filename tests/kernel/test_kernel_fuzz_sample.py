# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real kernel tools accept a sample of the fuzz test's accepted inventories.

The unit-level fuzz test (tests/fuzz) checks that every accepted inventory renders files within
the rendering contract and that the host module's parser reads them; this test loads a sample of
those files, as the module receives them, with ``ipset restore``, ``iptables-restore --test`` and
``ip6tables-restore --test``, then restores them for real (under nf_tables ``--test`` does not
notice a jump to a missing chain). Each case runs in a throwaway namespace
``pal-fuzz-<pid>-<n>`` that only this test creates and deletes (see ``netns.namespace``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from netns import namespace, run_in
from test_kernel_accepts_golden import FAMILIES, require_kernel_tools

sys.path.insert(0, str(Path(__file__).parents[1] / "fuzz"))
import fuzz_engine  # noqa: E402  (the fuzz test's generator and engine run)

SAMPLE = 30
SCAN_LIMIT = 5000  # cases of the fixed seed looked at to find the sample


def sample() -> list:
    """``[(case number, host, files)]``: the first accepted cases with files not seen before, one
    host each, half of them with escaped hostile text (``<U+XXXX>``) in a comment."""
    buckets: dict = {True: [], False: []}
    seen = set()
    for number in range(SCAN_LIMIT):
        outcome, rendered = fuzz_engine.run_case(fuzz_engine.FIXED_SEED, number)
        if outcome != "accepted":
            continue
        for host, (files, _hooks) in sorted(rendered.items()):
            key = tuple(sorted(files.items()))
            bucket = buckets["<U+" in "".join(files.values())]
            if key not in seen and len(bucket) < SAMPLE // 2:
                seen.add(key)
                bucket.append((number, host, files))
                break
        if sum(len(bucket) for bucket in buckets.values()) == SAMPLE:
            break
    return buckets[True] + buckets[False]


@pytest.fixture(scope="module")
def fuzz_sample() -> list:
    return sample()


def test_the_sample_is_full(fuzz_sample):
    require_kernel_tools()
    assert len(fuzz_sample) == SAMPLE


@pytest.mark.parametrize("index", range(SAMPLE))
def test_kernel_accepts_fuzz_case(fuzz_sample, index):
    require_kernel_tools()
    if index >= len(fuzz_sample):
        pytest.fail(f"only {len(fuzz_sample)} accepted cases in the first {SCAN_LIMIT} of seed {fuzz_engine.FIXED_SEED}")
    number, host, files = fuzz_sample[index]
    print(f"seed {fuzz_engine.FIXED_SEED} case {number} host {host}")
    with namespace("pal-fuzz") as name:
        run_in(name, ["ipset", "restore"], files["ipsets.restore"])
        for file_name, tool in FAMILIES:
            run_in(name, [f"{tool}-restore", "--test", "--noflush"], files[file_name])
        for file_name, tool in FAMILIES:
            run_in(name, [f"{tool}-restore", "--noflush"], files[file_name])
