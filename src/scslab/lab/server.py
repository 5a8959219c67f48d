"""Serving the lab: Solara's settings for a machine with no network, the server-wide options, uvicorn.

Solara's page loads its front-end from a CDN by default; with `solara-assets` installed the
server serves those files itself (`SOLARA_ASSETS_PROXY`, on here), and nothing leaves the
machine. Two more things would: Solara's telemetry to mixpanel (turned off here) and KaTeX,
which `solara.Markdown` fetches from the CDN (solara-assets does not bundle it): the lab never
uses `solara.Markdown`, so KaTeX is never asked for.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import webbrowser
from dataclasses import dataclass, field
from pathlib import Path

from scslab.errors import ScslabError
from scslab.hardware import available_cores
from scslab.lab.jobs import RunQueue
from scslab.lab.live import plotly_assets

# Set before Solara is imported (its settings read the environment once).
SOLARA_ENV = {
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
    "SOLARA_ASSETS_PROXY": "True",
    "SOLARA_KERNEL_CULL_TIMEOUT": "10s",  # a closed tab's session (and its run) ends 10 s later
    "SOLARA_THEME_TITLE": "scslab lab",
}
APP = "scslab.lab.app"


@dataclass
class LabConfig:
    """What every session of one server shares: where runs are written, and the cap on runs at once."""

    root: Path = Path("runs")
    queue: RunQueue = field(default_factory=lambda: RunQueue(available_cores()))


CONFIG = LabConfig()


def configure(root: Path | str = "runs", max_runs: int | None = None) -> LabConfig:
    """Set the server-wide options and Solara's environment (before Solara is imported)."""
    for key, value in SOLARA_ENV.items():
        os.environ[key] = value
    CONFIG.root = Path(root)
    CONFIG.queue.workers.close()  # (a notebook's second `Lab()`: the first one's idle workers go)
    CONFIG.queue = RunQueue(available_cores() if max_runs is None else max_runs)
    import solara.server.settings as settings  # the settings object may exist already (a notebook)

    settings.telemetry.mixpanel_enable = False
    if str(plotly_assets()) not in settings.assets.extra_locations:  # plotly.min.js at /static/assets/
        settings.assets.extra_locations = [*settings.assets.extra_locations, str(plotly_assets())]
    # Solara warns each time it sends plotly's dates (it then encodes them fine): not for the lab's terminal.
    logging.getLogger("solara.server.kernel").setLevel(logging.ERROR)
    return CONFIG


def warm_up() -> threading.Thread:
    """Compile (or load from numba's cache) the model's kernels on a thread, so that a first Run draws at once."""

    def work() -> None:
        from scslab.results import simulate
        from scslab.scenario import load_scenario

        sc = load_scenario("beijing-2020").with_overrides({"population.size": 500, "days": 3})
        simulate(sc, 1)

    thread = threading.Thread(target=work, name="lab-warm-up", daemon=True)
    thread.start()
    return thread


def check_port(host: str, port: int) -> None:
    """Refuse a port that is taken, with one line."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds it: a closed lab's port is free
        try:
            s.bind((host, port))
        except OSError as exc:
            why = f"--port: {port} on {host} cannot be used ({exc.strerror})"
            raise ScslabError(f"{why} (allowed: a free port)") from None


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on `host` now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}/"


def serve(host: str = "127.0.0.1", port: int = 8521, root: Path | str = "runs", max_runs: int | None = None,
          open_browser: bool = True, on_ready: threading.Event | None = None) -> None:  # fmt: skip
    """Run the lab's web server until stopped (Ctrl-C)."""
    configure(root, max_runs)
    check_port(host, port)
    os.environ["SOLARA_APP"] = APP
    import solara.server.starlette
    import uvicorn

    import scslab.lab.app  # noqa: F401 (before any session: its on_kernel_start hook then sees every session)

    warm_up()
    CONFIG.queue.workers.warm()  # a worker process ready for the first Run
    config = uvicorn.Config(solara.server.starlette.app, host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)
    if open_browser:
        threading.Timer(1.5, lambda: _open(url(host, port))).start()
    server.run()


def _open(address: str) -> None:
    """Open the page where there is a graphical browser (not a terminal one on a headless machine)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return
    try:
        webbrowser.open(address)
    except Exception:  # no browser here: the printed URL is enough
        pass
