# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reachability page in a real browser: headless Chromium (the Debian package ``chromium``)
opens the page the playbook wrote, its script runs without an error, the matrix cells hold the
expected services, and a screenshot shows something (kept under .build/browser/).

Chromium missing is a failure, not a skip: tests/setup/system_packages.sh installs it."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import sys
import time
import zlib
from collections import Counter
from html import unescape
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT / "tests" / "playbooks"))
from test_resolve import ansible_playbook  # noqa: E402  pylint: disable=wrong-import-position

INVENTORY = ROOT / "tests" / "playbooks" / "inventories" / "reachability" / "new"
ARTEFACTS = ROOT / ".build" / "browser"
WINDOW = (1400, 900)


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("chromium is missing: install the Debian package chromium (apt-get install chromium; tests/setup/system_packages.sh does it as root)")
    return found


def browse(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
               f"--user-data-dir={tmp_path / 'chromium-profile'}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("reachability")
    path = out / "report.html"
    started = time.monotonic()
    run = ansible_playbook("palisade.firewall.reachability", "-i", str(INVENTORY), "-e", f"output={path}", "-e", "group_by=tier")
    assert run.returncode == 0, run.stdout + run.stderr
    print(f"playbook wrote {path} in {time.monotonic() - started:.1f} s")
    return path


def dom(tmp_path: Path, url: str) -> str:
    run = browse(tmp_path, "--virtual-time-budget=5000", "--dump-dom", url)
    assert run.returncode == 0 and "<body" in run.stdout, run.stderr
    return run.stdout


def body_attributes(text: str) -> dict[str, str]:
    tag = re.search(r"<body([^>]*)>", text).group(1)
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag))


def cell_text(text: str, source: str, target: str) -> str:
    match = re.search(rf'<td class="([^"]*)" data-from="{re.escape(source)}" data-to="{re.escape(target)}"[^>]*>(.*?)</td>', text, re.S)
    assert match, f"no cell {source} -> {target} in the DOM"
    return unescape(re.sub(r"<[^>]+>", "\n", match.group(2)))


def test_the_script_runs_and_the_cells_hold_the_services(page, tmp_path):
    started = time.monotonic()
    text = dom(tmp_path, page.as_uri())
    attributes = body_attributes(text)
    assert "data-error" not in attributes, attributes
    assert attributes.get("data-ready") == "1", f"the page's script did not finish: {attributes}"
    assert attributes["data-cells"] == "20"  # 5 sources x 4 destinations (the office network set is both)
    assert re.search(r'<div id="error"></div>', text)
    assert "TCP 179, 2379-2380, 5432, 6666-6667" in cell_text(text, "host:app-1", "host:db-1")
    assert "unpoliced: TCP 22, 179, 2379-2380, 6666-6667; UDP 68; ICMP" in cell_text(text, "host:legacy-1", "host:db-2")
    assert "TCP 179, 443, 2379-2380, 6666-6667" in cell_text(text, "host:app-1", "network set:office")
    print(f"dump-dom in {time.monotonic() - started:.1f} s")


def test_a_search_and_a_chosen_cell_from_the_address(page, tmp_path):
    text = dom(tmp_path, page.as_uri() + "#find=5432&from=host:app-1&to=host:db-1")
    assert body_attributes(text).get("data-ready") == "1"
    matched = re.findall(r'<td class="cell [^"]*\bmatch\b[^"]*" data-from="([^"]+)" data-to="([^"]+)"', text)
    assert matched == [("host:app-1", "host:db-1"), ("host:app-1", "host:db-2")]  # who can reach the databases on 5432
    details = unescape(re.search(r'<div id="details">(.*?)</div>', text, re.S).group(1))
    assert "IPv4 198.51.100.20 (eth0) -> 198.51.100.10 (eth0)" in details
    assert "TCP 5432: allow; egress allow (policy app egress rule 0); ingress allow (policy db ingress rule 0)" in details


def test_a_screenshot_shows_the_matrix(page, tmp_path):
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTEFACTS / "reachability.png"
    shot.unlink(missing_ok=True)
    started = time.monotonic()
    run = browse(tmp_path, f"--window-size={WINDOW[0]},{WINDOW[1]}", "--hide-scrollbars", f"--screenshot={shot}", page.as_uri())
    assert run.returncode == 0 and shot.exists(), run.stderr
    width, height, pixels = decode_png(shot.read_bytes())
    assert (width, height) == WINDOW
    colours = Counter(pixels)
    assert len(colours) > 200, f"{len(colours)} distinct colours: the page looks blank"
    (background, count), = colours.most_common(1)
    assert count < 0.97 * len(pixels), f"{count} of {len(pixels)} pixels are {background}: the page looks blank"
    assert len([colour for colour in ((227, 244, 225), (255, 244, 214)) if colour in colours]) == 2, "no allowed or unpoliced cell colour"
    print(f"screenshot {shot} ({len(colours)} colours) in {time.monotonic() - started:.1f} s")


def decode_png(data: bytes) -> tuple[int, int, list[tuple[int, ...]]]:
    """Width, height and every pixel of an 8-bit RGB or RGBA PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, idat, header = 8, b"", None
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        kind = data[position + 4:position + 8]
        chunk = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        position += 12 + length
    width, height, depth, colour, _compression, _filter, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unexpected PNG format {header}"
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    pixels: list[tuple[int, ...]] = []
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        unfilter(kind, line, previous, channels)
        pixels += [tuple(line[i:i + 3]) for i in range(0, stride, channels)]
        previous = line
    return width, height, pixels


def unfilter(kind: int, line: bytearray, previous: bytearray, channels: int) -> None:
    if kind == 0:
        return
    for i in range(len(line)):  # pylint: disable=consider-using-enumerate
        left = line[i - channels] if i >= channels else 0
        up = previous[i]
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
        else:
            corner = previous[i - channels] if i >= channels else 0
            estimate = left + up - corner
            pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
            line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
