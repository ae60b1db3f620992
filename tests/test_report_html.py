"""The HTML report is self-contained and renders: headless Chromium takes a screenshot of it."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib

import pytest
from test_report import fleet_and_members, member

from mgmt.health.aggregate import aggregate
from mgmt.report import fleet as report
from mgmt.report.html import COLORS, to_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def html_report() -> str:
    fleet, members = fleet_and_members()
    members.append(member("d", nodes=(1, 3)))  # Degraded, a third colour in the chart
    fleet["spec"]["clusters"].append({"name": "d"})
    members[0]["spec"]["cluster"] = "<script>alert(1)</script>"
    fleet["status"] = aggregate(fleet, members, now="2026-01-01T00:00:00Z")
    return to_html(report.reports([fleet], members), generated="2026-01-01 00:00:00Z")


def test_html_is_self_contained_and_escaped():
    page = html_report()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<svg" in page and page.count('stroke="#') >= 3  # one donut segment per phase present
    assert "Fleet prod" in page and "2/5 ready" in page


def read_png(path) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered RGB(A) rows of an 8-bit non-interlaced PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and color in (2, 6) and interlace == 0
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, [bytes(r[i:i + 3]) for r in rows for i in range(0, stride, bpp)]


def near(pixel: bytes, hex_color: str, tolerance: int = 12) -> bool:
    want = bytes.fromhex(hex_color[1:])
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, want))


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (run `make browser`)")
def test_html_report_renders_in_headless_chromium(tmp_path):
    page = tmp_path / "fleet.html"
    page.write_text(html_report())
    shot = tmp_path / "fleet.png"
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
                           "--window-size=1200,900", page.as_uri()],
                          check=False, capture_output=True, text=True, timeout=180)
    assert shot.exists(), f"no screenshot written:\n{proc.stderr[-2000:]}"
    assert shot.stat().st_size > 10_000
    width, height, pixels = read_png(shot)
    assert (width, height) == (1200, 900)
    assert len(set(pixels)) > 50  # far from a single colour
    for phase in ("Ready", "Unreachable", "Degraded"):  # the chart and the chips are drawn
        assert sum(near(p, COLORS[phase]) for p in pixels) > 200, f"no {phase} colour in the screenshot"
