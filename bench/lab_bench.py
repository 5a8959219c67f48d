"""The lab's speed targets (issue 17, item 9), measured in Chromium through Playwright.

    flock /work/wt/_notes/big.lock python bench/lab_bench.py [--big-size 220000] [--big-days 365]

1. The first chart within 2 s of pressing Run for 20,000 citizens (and 60 days).
2. The bytes the page receives per update (websocket frames during that run), and per chart.
3. Switching tabs during a year at 220,000 citizens (`--tab-runs` such runs): click to the tab's content shown
   as the driver sees it (its own click and polling included), and the browser's own interaction latency
   (Event Timing: input to the next frame painted), the median, 90th percentile and slowest; and the same
   with no run going.
4. That year's wall time in the lab (Run to done) against `scslab run` with the same options, one after
   the other in the same session.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]  # fmt: skip
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def start_lab(root: Path, port: int) -> subprocess.Popen[str]:
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "scslab", "lab", "--port", str(port), "--root", str(root),
                             "--no-browser"], env=env, text=True)  # fmt: skip
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
            return proc
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the lab did not start")


def set_value(page: Any, key: str, text: str) -> None:
    box = page.locator(".scs-key-" + key.replace(".", "-") + " input").first
    box.fill(text)
    box.press("Enter")
    page.wait_for_timeout(300)


def run_and_time(page: Any, size: int, days: int, baseline: bool, frames: list[int]) -> dict[str, float]:
    """Press Run; seconds to the first chart drawn and to done, and the frames received meanwhile."""
    page.get_by_role("tab", name="Run").click()
    set_value(page, "population.size", str(size))
    set_value(page, "days", str(days))
    if page.get_by_role("checkbox").first.is_checked() != baseline:
        page.get_by_text("also run without surveillance").click()
    frames.clear()
    t0 = time.perf_counter()
    page.locator(".scs-run").click()
    page.locator(".scs-chart-blacklist").wait_for(state="detached", timeout=60_000)  # the last run's charts go
    page.locator(".scs-chart-blacklist .js-plotly-plot").wait_for(timeout=600_000)
    first = time.perf_counter() - t0
    page.locator(".scs-state-done").wait_for(timeout=3_600_000)
    return {"first_chart": first, "done": time.perf_counter() - t0}


# The browser's own account of each interaction (the Event Timing API): from the input event to the next frame
# painted after its handlers ran, the measure behind "Interaction to Next Paint", whose "good" bound is 200 ms.
EVENT_TIMING = """
window.__scsEvents = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (e.interactionId) window.__scsEvents.push([e.startTime, e.duration]);
  }
}).observe({ type: "event", durationThreshold: 16, buffered: true });
"""
UNSEEN_MS = 16.0  # an interaction none of whose events took this long is not reported: counted as this


def tab_latencies(page: Any, seconds: float, until_done: bool = False) -> tuple[list[float], list[float]]:
    """Click between Design, Audit and Run for `seconds` (or until the run is done): for each click, from the
    driver's click to its page's content visible, and the browser's own interaction latency (ms)."""
    targets = (("Design", "text=Start from"), ("Audit", ".scs-verdict"), ("Run", ".scs-run"))
    # a click as a person's: the mouse at the tab, sent whatever the page is doing (a locator's click would
    # first wait for the page to be idle enough to check the tab, which hides the wait a person would feel)
    boxes = {name: page.get_by_role("tab", name=name).bounding_box() for name, _ in targets}
    out, starts, end, i = [], [], time.perf_counter() + seconds, 0
    page.evaluate("window.__scsEvents = []")
    while time.perf_counter() < end and not (until_done and page.locator(".scs-state-done").count()):
        name, selector = targets[i % len(targets)]
        box = boxes[name]
        assert box is not None
        starts.append(page.evaluate("performance.now()"))
        t0 = time.perf_counter()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.locator(selector).first.wait_for(state="visible")
        out.append(1000 * (time.perf_counter() - t0))
        i += 1
        page.wait_for_timeout(200)
    events: list[list[float]] = page.evaluate("window.__scsEvents")
    bounds = [*starts, float("inf")]
    browser = [max([d for t, d in events if bounds[k] <= t < bounds[k + 1]], default=UNSEEN_MS)
               for k in range(len(starts))]  # fmt: skip
    return out, browser


def spread(values: list[float]) -> str:
    """Median, 90th percentile and slowest, in ms."""
    return (f"median {statistics.median(values):.0f} ms, 90th percentile {sorted(values)[int(0.9 * len(values))]:.0f} "
            f"ms, slowest {max(values):.0f} ms")  # fmt: skip


def cli_seconds(size: int, days: int, out: Path) -> float:
    """Wall seconds of `scslab run` (with its report, as the lab writes it) at that size."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "scslab", "run", "beijing-2020", "--set", f"population.size={size}",
                    "--set", f"days={days}", "--quiet", "--out", str(out)], check=True,
                   env=os.environ | {"PYTHONPATH": str(ROOT / "src")})  # fmt: skip
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--big-size", type=int, default=220_000)
    parser.add_argument("--big-days", type=int, default=365)
    parser.add_argument("--port", type=int, default=8531)
    parser.add_argument("--tab-runs", type=int, default=3, help="big runs with tabs clicked during them")
    args = parser.parse_args()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")  # fmt: skip
    print(f"CPU: {cpu}; cores: {os.cpu_count()}")
    work = Path(tempfile.mkdtemp(prefix="lab-bench-"))
    proc = start_lab(work / "runs", args.port)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.add_init_script(EVENT_TIMING)
            frames: list[int] = []
            page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(len(f))))
            page.goto(f"http://127.0.0.1:{args.port}/")
            page.get_by_text("Start from").wait_for(timeout=120_000)
            time.sleep(5)  # the server's warm-up (numba's kernels from its cache)
            for attempt in range(3):
                timing = run_and_time(page, 20_000, 60, False, frames)
                big = sorted(frames)[-8:]
                print(f"20,000 citizens x 60 days, run {attempt + 1}: first chart {timing['first_chart']:.2f} s after "
                      f"Run, done {timing['done']:.2f} s; {len(frames)} frames, {sum(frames) / 1024:.0f} KiB in all, "
                      f"largest {[round(b / 1024) for b in big]} KiB")  # fmt: skip
            # 4: a year at the big size, Run to done, with scslab run's time before and after it
            cli_before = cli_seconds(args.big_size, args.big_days, work / "cli-1")
            timing = run_and_time(page, args.big_size, args.big_days, False, frames)
            lab_seconds = timing["done"]
            cli_after = cli_seconds(args.big_size, args.big_days, work / "cli-2")
            print(f"{args.big_size:,} citizens x {args.big_days} days in the lab: "
                  f"first chart {timing['first_chart']:.2f} s, "
                  f"done {lab_seconds:.1f} s (Run to done); {len(frames)} frames, {sum(frames) / 2**20:.2f} MiB; "
                  f"scslab run: {cli_before:.1f} s before, {cli_after:.1f} s after; "
                  f"lab / scslab run = {lab_seconds / statistics.mean([cli_before, cli_after]):.2f}")  # fmt: skip
            # 3: the same again (`--tab-runs` times), with tabs clicked while it runs
            lat: list[float] = []
            inp: list[float] = []
            for _ in range(args.tab_runs):
                page.get_by_role("tab", name="Run").click()
                page.locator(".scs-run").click()
                page.locator(".scs-chart-blacklist").wait_for(state="detached", timeout=60_000)
                page.locator(".scs-chart-blacklist .js-plotly-plot").wait_for(timeout=600_000)
                driver, own = tab_latencies(page, 30.0, until_done=True)
                lat, inp = lat + driver, inp + own
                page.get_by_role("tab", name="Run").click()
                page.locator(".scs-state-done").wait_for(timeout=3_600_000)
            print(f"tab switches during {args.tab_runs} big runs: {len(lat)}; click to content visible (the driver's "
                  f"count): {spread(lat)}; the browser's interaction latency: {spread(inp)}")  # fmt: skip
            idle, idle_inp = tab_latencies(page, 10.0)
            print(f"tab switches with no run going: {len(idle)}; click to content visible: {spread(idle)}; the "
                  f"browser's interaction latency: {spread(idle_inp)}")  # fmt: skip
            browser.close()
    finally:
        proc.terminate()
        proc.wait(30)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
