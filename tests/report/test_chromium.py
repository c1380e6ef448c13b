"""The HTML report in headless Chromium (Debian package): no broken image, no network."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

pytestmark = [
    pytest.mark.chromium,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed"),
]

# Loads the page in an iframe (file access allowed for this harness only), then records
# every image's decode state and every resource the page fetched; Chromium's net log
# (with every host name unresolvable) records any request that tried the network.
HARNESS = """<!DOCTYPE html><html><body><iframe id="r" src="{page}"></iframe><script>
document.getElementById("r").addEventListener("load", () => {{
  const d = document.getElementById("r").contentDocument;
  const imgs = Array.from(d.images);
  const res = {{
    images: imgs.length,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 60)),
    not_data: imgs.filter(i => !i.src.startsWith("data:")).map(i => i.src.slice(0, 80)),
    fetched: d.defaultView.performance.getEntriesByType("resource").map(e => e.name.slice(0, 80)),
    headings: Array.from(d.querySelectorAll("h1")).map(h => h.textContent.trim()),
  }};
  const pre = document.createElement("pre"); pre.id = "result";
  pre.textContent = JSON.stringify(res); document.body.appendChild(pre);
}});
</script></body></html>"""


def _inspect(page, tmp_path) -> dict:
    harness = page.parent / f"harness-{page.stem}.html"
    harness.write_text(HARNESS.format(page=page.name), encoding="utf-8")
    profile = tmp_path / f"profile-{page.parent.name}"
    netlog = tmp_path / f"netlog-{page.parent.name}.json"
    try:
        proc = subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--allow-file-access-from-files",
             f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
             f"--log-net-log={netlog}", "--virtual-time-budget=10000", "--dump-dom",
             harness.as_uri()],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        harness.unlink()
    m = re.search(r'<pre id="result">(.*?)</pre>', proc.stdout, re.S)
    assert m, f"chromium gave no result: {proc.stderr[-500:]}"
    result = json.loads(m.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
    result["network"] = _page_requests(netlog)
    return result


def _page_requests(netlog) -> list[str]:
    """http(s) requests Chromium's net log attributes to file:// pages (the browser's own
    background traffic belongs to other network partitions and is left out)."""
    events = json.loads(netlog.read_text(encoding="utf-8")).get("events", [])
    return sorted({
        e["params"]["url"] for e in events
        if re.match(r"https?:", e.get("params", {}).get("url", ""))
        and str(e["params"].get("network_isolation_key", "")).startswith("file://")
    })  # fmt: skip


def test_report_html_has_no_broken_image_and_fetches_nothing(rendered, tmp_path):
    files, _ = rendered
    page = files[("ja", "html")]
    result = _inspect(page, tmp_path)
    assert result["images"] >= 8
    assert result["broken"] == [] and result["not_data"] == []
    assert result["fetched"] == [] and result["network"] == []
    assert result["headings"][1:3] == ["1. 概要", "2. 事業の概要"]


def test_the_check_sees_broken_images_and_network_requests(tmp_path):
    bad = tmp_path / "site" / "bad.html"
    bad.parent.mkdir()
    bad.write_text('<html><body><h1>t</h1><img src="missing.png" alt="x">'
                   '<img src="https://example.org/a.png" alt="y"></body></html>')  # fmt: skip
    result = _inspect(bad, tmp_path)
    assert len(result["broken"]) == 2
    assert len(result["not_data"]) == 2
    assert result["network"] == ["https://example.org/a.png"]
