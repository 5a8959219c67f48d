"""The lab's pages (Solara): Design, Run, Compare, People, Audit, Sessions.

Each browser session has its own design and runs: the state below is Solara's reactive
variables, which live per session (per virtual kernel). Runs go in worker processes, each followed
by a thread of the server (`jobs.LiveRun`); a painter thread hands their snapshots to the page
through the session's context.
"""

from __future__ import annotations

import contextlib
import html
import io
import random
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import reacton.core
import solara
import solara.lab
from solara.server import kernel_context

from scslab.audit import audit
from scslab.errors import ScslabError
from scslab.hardware import available_bytes
from scslab.lab import people as people_view
from scslab.lab.charts import Chart, PlotlyPreload
from scslab.lab.design import RULES_GROUP, Design, Rule, check_upload_size, groups, read_upload, scenario_text
from scslab.lab.fields import IntField, TextField
from scslab.lab.jobs import CompareRun, LiveRun, Snapshot
from scslab.lab.live import chart_figures, compare_figure, compare_rows
from scslab.lab.server import CONFIG
from scslab.memory import check_memory, estimate_peak_bytes
from scslab.scenario import Scenario, list_presets, load_scenario
from scslab.scenario.loader import MAX_FILE_BYTES
from scslab.scenario.messages import is_flag

DEFAULT_PRESET = "beijing-2020"
DEFAULT_SIZE, DEFAULT_DAYS = 20_000, 120
COMPARE_WITH = "rights-respecting"  # the design B a comparison starts with: the contrast to most presets
UI_SECONDS = 0.1  # the painter sends progress to the page at most this often
DRAW_PAUSE = 3.0  # and waits this many times as long as its last drawing took before the next
SHOW_PAUSE = 0.3  # seconds from the Run page shown to its new charts sent (a reader clicking through is not held up)
SESSION_JOBS: dict[str, list[LiveRun | CompareRun]] = {}  # each session's runs and comparisons, by its id
PAGES = ("Design", "Run", "Compare", "People", "Audit", "Sessions")
RUN_PAGE = PAGES.index("Run")  # the tab whose charts the painter draws


def start_design(preset: str = DEFAULT_PRESET) -> Design:
    base = load_scenario(preset).with_overrides({"population.size": DEFAULT_SIZE, "days": DEFAULT_DAYS})
    return Design.start(base, f"preset {preset}")


@dataclass(frozen=True)
class Progress:
    """Where this session's run is, as the Run page shows it."""

    state: str = ""
    message: str = ""
    day: int = 0
    days: int = 0
    queue: int | None = None  # place in the server's queue


design = solara.reactive(start_design())
seed = solara.reactive(1)
baseline = solara.reactive(True)
live: solara.Reactive[LiveRun | None] = solara.reactive(None)
progress = solara.reactive(Progress())
snapshot: solara.Reactive[Snapshot | None] = solara.reactive(None)
history: solara.Reactive[tuple[Path, ...]] = solara.reactive(())  # this session's finished run folders
saved: solara.Reactive[dict[str, Design]] = solara.reactive({})  # designs saved in this session, by name
comparison: solara.Reactive[CompareRun | None] = solara.reactive(None)
compare_tick = solara.reactive(0)
upload_message = solara.reactive("")
tab = solara.reactive(0)
refreshed = solara.reactive(0)  # the Sessions page's Refresh


def text_block(text: str, css: str = "") -> None:
    """Plain text as a paragraph (escaped; no Markdown, whose KaTeX would come from the network)."""
    solara.HTML(tag="p", unsafe_innerHTML=html.escape(text), style=css or "margin: 4px 0; color: #444")


@solara.component
def ValueControl(key: str, label: str, help: str) -> None:
    """A text field for one scenario value (a box to tick for a flag), with the schema's message beside it
    when refused."""
    d = design.value
    _, errors = d.resolved()
    error = errors.get(key)
    css = ["scs-control", "scs-key-" + key.replace(".", "-").replace("[", "-").replace("]", "")]

    def commit(text: str) -> None:
        if text.strip() != design.value.text(key):
            design.set(design.value.with_text(key, text.strip()))

    if is_flag(key):
        with solara.Column(gap="0px", classes=css):
            solara.Checkbox(label=label, value=d.text(key) == "true", on_value=lambda on: commit(str(on).lower()))
            text_block(error or help, "margin: 0 0 8px 0; font-size: 12px; color: " + ("#b00020" if error else "#666"))
        return

    TextField(
        label=label,
        value=d.text(key),
        error=error or "",
        message=help,
        classes=css,
        event_commit=commit,
    )


@solara.component
def RuleControl(rule: Rule, error: str | None) -> None:
    def change(**values: Any) -> None:
        """Change this rule as the design now holds it (not as it was when this control was drawn)."""
        now = next(r for r in design.value.rules if (r.kind, r.index) == (rule.kind, rule.index))
        design.set(design.value.with_rule(replace(now, **values)))

    with solara.Row(style="align-items: center"):
        solara.Checkbox(label=f"{rule.kind[:-1]} {rule.effect.replace('_', ' ')}", value=rule.on,
                        on_value=lambda on: change(on=on))  # fmt: skip
        if rule.trigger or rule.kind == "sanctions":
            TextField(label="trigger", value=rule.trigger, error=error or "",
                      message='"blacklist", "tier <= NAME" or "tier >= NAME"',
                      event_commit=lambda text: change(trigger=text.strip()))  # fmt: skip


@solara.component
def DesignPage() -> None:
    d = design.value
    sc, errors = d.resolved()
    presets = [name for name, _ in list_presets()]

    def choose(name: str | None) -> None:
        if name is None:
            return
        design.set(start_design(name))
        upload_message.set("")

    def uploaded(file: dict[str, Any]) -> None:
        try:  # (the browser sends a file's bytes only when they are read: a file too large is refused unread)
            check_upload_size(str(file["name"]), int(file["size"]))
            base = read_upload(str(file["name"]), file["file_obj"].read(MAX_FILE_BYTES + 1))
        except ScslabError as exc:
            upload_message.set(str(exc))
            return
        design.set(Design.start(base, str(file["name"])))
        upload_message.set(f"loaded {file['name']}")

    with solara.Card("Start from"):
        text_block("A preset (a documented scoring system), or a scenario file of your own (.toml, at most 1 MiB: "
                   "it is read as data by the scenario loader, never run as code).")  # fmt: skip
        with solara.Row():
            preset: str | None = d.label.removeprefix("preset ")
            solara.Select("preset", values=presets, value=preset if preset in presets else None,
                          on_value=choose)  # fmt: skip
            solara.FileDrop(label="Drop a scenario.toml here", on_file=uploaded, lazy=True)
        if upload_message.value:
            text_block(upload_message.value)
        text_block(f"{sc.params.description}" if sc.params.description else "")
        if errors:
            solara.Warning(f"{len(errors)} value(s) refused: the run uses the last accepted values.")
        solara.FileDownload(lambda: scenario_text(design.value.scenario(), seed.value).encode(),
                            filename="scenario.toml", label="Download scenario.toml")  # fmt: skip
    for group in groups(d.base):
        with solara.Details(group.title, expand=group.title in ("Data sources", RULES_GROUP)):
            text_block(group.about)
            for rule in d.rules if group.rules else ():
                RuleControl(rule, errors.get(rule.key))
            with solara.ColumnsResponsive(12, large=4):
                for control in group.controls:
                    ValueControl(control.key, control.label, control.help)


def memory_line(sc: Scenario) -> tuple[str, str | None]:
    """The memory estimate of a run, and the refusal (with the size that fits) when it would not fit."""
    need = estimate_peak_bytes(sc.params)
    line = f"needs about {need / 2**20:,.0f} MiB of the {available_bytes() / 2**20:,.0f} MiB available"
    try:
        check_memory(sc.params, "this design")
    except ScslabError as exc:
        return line, str(exc)
    return line, None


def run_folder(sc: Scenario, run_seed: int) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = CONFIG.root / f"{sc.name}-{run_seed}-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


class Painter:
    """Brings a run's progress and snapshots to its session's page, on a thread of its own: drawing (the
    report's figures, plotly's widgets) never holds up the run, and a snapshot that comes while the last
    one is drawn replaces the one waiting, so the page shows the newest. While another page than Run is
    shown, it draws nothing and sends only changes of state: the newest snapshot is drawn when Run is
    shown again (and the last one at the end whichever page is shown)."""

    def __init__(self, context: Any, render: reacton.core._RenderContext) -> None:
        self.context, self.render = context, render  # (changes made inside `render` are rendered once, at its end)
        self.wake = threading.Event()
        self.shown = threading.Event()  # the Run page was shown again
        self.shown_at = 0.0  # (perf_counter)
        self.run: LiveRun | None = None
        self.thread = threading.Thread(target=self._loop, name="lab-painter", daemon=True)

    def follow(self, run: LiveRun) -> None:
        self.run = run
        run.on_update = lambda _: self.wake.set()
        self.unsubscribe = tab.subscribe(self._tab)  # (called in the session's context)
        self.thread.start()

    def _tab(self, index: int) -> None:
        if index == RUN_PAGE:
            self.shown_at = time.perf_counter()
            self.shown.set()
            self.wake.set()

    def _loop(self) -> None:
        drawn: Snapshot | None = None
        sent = ""
        try:
            while True:
                self.wake.wait(1.0)
                self.wake.clear()
                self.shown.clear()
                time.sleep(max(0.0, self.shown_at + SHOW_PAUSE - time.perf_counter()))
                run = self.run
                assert run is not None
                ended = not run.active
                began = time.perf_counter()
                with self.context, self.render:  # (one render; "done" with the last charts)
                    visible = tab.peek() == RUN_PAGE
                    if run.snapshot is not drawn and (visible or ended):
                        drawn = run.snapshot
                        snapshot.set(drawn)
                    if visible or ended or run.state != sent:
                        sent = run.state
                        progress.set(Progress(run.state, run.message, run.day, run.days, CONFIG.queue.position(run)))
                    if ended and run.state == "done":
                        history.set((*history.peek(), run.target))
                if ended:
                    return
                # drawing takes the server this long, and the browser about as long again: leave the run the rest
                self.shown.wait(max(UI_SECONDS, DRAW_PAUSE * (time.perf_counter() - began)))
        finally:
            self.unsubscribe()


def start_run(render: reacton.core._RenderContext) -> None:
    """Queue a run of the current design; a painter brings its updates to this session's page (`render`: the
    session's render context, inside which changes of state are rendered once, not once per value changed)."""
    context = session_context()
    sc = design.value.scenario()
    run = LiveRun(sc, seed.value, run_folder(sc, seed.value), baseline.value)
    with render:
        live.set(run)
        snapshot.set(None)
        progress.set(Progress("queued", "", 0, sc.params.days, None))
    Painter(context, render).follow(run)
    keep(run)
    run.start(CONFIG.queue)


def zip_run(folder: Path) -> bytes:
    """A run folder as a zip (what "Download run" gives)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                z.write(path, f"{folder.name}/{path.name}")
    return buffer.getvalue()


@solara.component
def Charts(snap: Snapshot | None) -> None:
    figures = solara.use_memo(lambda: chart_figures(snap.data) if snap is not None else {}, dependencies=[snap])
    if snap is None:
        return
    with solara.ColumnsResponsive(12, large=6):
        for name, fig in figures.items():
            Chart(fig, name)


@solara.component
def RunPage() -> None:
    render = reacton.core.get_render_context()
    d = design.value
    sc, errors = d.resolved()
    memory, refusal = memory_line(sc)
    p = progress.value
    run = live.value
    busy = run is not None and run.active
    with solara.Card("Size, days and seed"):
        with solara.Row():
            ValueControl("population.size", "citizens", "Simulated citizens (counts are also scaled to the real "
                         "population).")  # fmt: skip
            ValueControl("days", "days", "Simulated days.")
            IntField("seed", value=seed.value, on_value=seed.set, classes=["scs-seed"])
            solara.Checkbox(label="also run without surveillance (the chilling effect)", value=baseline)
        text_block(f"Memory: {memory}.")
        if refusal:
            solara.Error(refusal, classes=["scs-refusal"])
        if errors:
            solara.Warning("Some values of the design are refused (see Design): the run uses the accepted ones.")
        with solara.Row():
            solara.Button("Run", on_click=lambda: start_run(render), disabled=busy or refusal is not None,
                          color="primary", classes=["scs-run"])  # fmt: skip
            solara.Button("Cancel", on_click=lambda: run.cancel() if run else None, disabled=not busy,
                          classes=["scs-cancel"])  # fmt: skip
            if run is not None and run.state == "done":
                solara.FileDownload(lambda: zip_run(run.target), filename=f"{run.target.name}.zip",
                                    label="Download run")  # fmt: skip
    if p.state:
        share = 100 * p.day / p.days if p.days else 0
        solara.ProgressLinear(share if p.state != "queued" else True)
        status = {"queued": f"waiting in the queue (place {p.queue})" if p.queue else "waiting for a free slot",
                  "building": "building the synthetic population", "running": f"day {p.day} of {p.days}"}  # fmt: skip
        words = status.get(p.state, p.message or p.state)
        if p.state in ("done", "cancelled", "failed"):
            words = f"{p.state}: {p.message}"
        solara.Text(words, classes=["scs-status", f"scs-state-{p.state}"])
    Charts(snapshot.value)


@solara.component
def ComparePage() -> None:
    _ = compare_tick.value
    job = comparison.value
    presets = [name for name, _ in list_presets()]
    # (read when Compare is pressed, not as they were when the page was drawn)
    other = solara.use_reactive(f"preset {COMPARE_WITH}")
    seeds, size, days = solara.use_reactive(5), solara.use_reactive(5_000), solara.use_reactive(60)
    choices = [f"preset {name}" for name in presets] + [f"saved {name}" for name in saved.value]
    with solara.Card("Compare the current design (A) with another (B)"):
        text_block("Both designs run over the same seeds with common random numbers: everyone whose rates the "
                   "two designs leave alike makes the same random draws, so each seed's difference is the "
                   "designs' effect, not noise. The table gives each headline figure's mean difference B − A "
                   "with its 95% interval over the seeds.")  # fmt: skip
        with solara.Row():
            if other.value not in choices:
                other.set(choices[0])
            solara.Select("B", values=choices, value=other)
            IntField("seeds (K)", value=seeds.value, on_value=seeds.set, classes=["scs-compare-seeds"])
            IntField("citizens", value=size.value, on_value=size.set, classes=["scs-compare-size"])
            IntField("days", value=days.value, on_value=days.set, classes=["scs-compare-days"])

        def go() -> None:
            context = session_context()
            b_name = other.value
            b = (saved.value[b_name.removeprefix("saved ")].scenario() if b_name.startswith("saved ")
                 else load_scenario(b_name.removeprefix("preset ")))  # fmt: skip

            def tick(_: Any) -> None:
                with context:
                    compare_tick.set(compare_tick.peek() + 1)

            job = CompareRun(design.value.scenario(), b, seeds.value, {"population.size": size.value,
                             "days": days.value}, on_update=tick)  # fmt: skip
            keep(job)
            comparison.set(job.start(CONFIG.queue))

        busy = job is not None and job.active
        with solara.Row():
            solara.Button("Compare", on_click=go, disabled=busy, color="primary", classes=["scs-compare"])
            solara.Button("Cancel", on_click=lambda: job.cancel() if job else None, disabled=not busy)
    if job is not None:
        solara.ProgressLinear(100 * job.done / job.total if job.total else True)
        solara.Text(f"{job.state}: {job.message or f'{job.done} of {job.total} runs'}", classes=["scs-compare-status"])
        if job.comparison is not None:
            rows = compare_rows(job.comparison)
            solara.DataFrame(rows, items_per_page=len(rows))
            Chart(compare_figure(job.comparison), "compare")


@solara.component
def AuditPage() -> None:
    sc = design.value.scenario()
    report = solara.use_memo(lambda: audit(sc), dependencies=[sc.to_toml()])
    verdict = ("No rule meets" if report.passes else f"{len(report.prohibited)} rule(s) meet") + (
        f" the prohibited pattern of {report.article}")
    (solara.Success if report.passes else solara.Error)(verdict, classes=["scs-verdict"])
    text_block(report.rule_of_thumb)
    for f in report.findings:
        with solara.Card(f"{f.rule}: {f.effect.replace('_', ' ')} ({f.trigger})"):
            word = "meets the prohibited pattern" if f.prohibited else "does not meet it"
            solara.Text(f"In {f.context}, {f.severity}: {word}.",
                        style="font-weight: bold; color: " + ("#c0392b" if f.prohibited else "#27ae60"))  # fmt: skip
            data = "; ".join(f"{u.name} ({u.path}) {u.context}" for u in f.data) or "none"
            offences = ", ".join(f"{u.name} {u.gravity}" for u in f.data if u.gravity != "merit") or "none"
            lines = [f"(a) {f.scoring}", f"(i) data: {data}; applied in {f.context}",
                     *(f"(i) unrelated: {r}" for r in f.unrelated), f"(ii) {f.severity} against: {offences}",
                     *(f"(ii) disproportionate: {r}" for r in f.disproportionate), *(f"note: {n}" for n in f.notes)]
            for line in lines:
                text_block(line)
    for note in report.not_audited:
        text_block(f"not audited: {note}")


@solara.component
def PeoplePage() -> None:
    _ = progress.value  # drawn again when the run ends
    run = live.value
    if run is None or run.people is None:
        text_block("Run a design first (Run page): this page lists the people its blacklist took, and opens "
                   "their cases.")  # fmt: skip
        return
    people_view.PeopleView(run.people)


@solara.component
def SessionsPage() -> None:
    _ = progress.value, refreshed.value
    going, waiting = CONFIG.queue.counts()
    name = solara.use_reactive("")  # (read when Save is pressed)
    with solara.Card("This server"):
        solara.Text(f"{going} run(s) going, {waiting} waiting; at most {CONFIG.queue.slots} at once (--max-runs). "
                    f"Runs are written under {CONFIG.root}.", classes=["scs-server"])  # fmt: skip
        solara.Button("Refresh", on_click=lambda: refreshed.set(refreshed.value + 1), classes=["scs-refresh"])
    with solara.Card("Designs saved in this session"):
        with solara.Row():
            TextField(label="name", value=name.value, message="" if name.value else "a name to save it under",
                      event_commit=lambda text: name.set(text.strip()))  # fmt: skip

            def save() -> None:
                if name.value:
                    saved.set(saved.value | {name.value: design.value})

            solara.Button("Save the current design", on_click=save)
        for key, d in saved.value.items():
            with solara.Row():
                solara.Text(key)
                solara.Button("Load", on_click=lambda d=d: design.set(d), text=True)
    with solara.Card("Runs of this session"):
        if not history.value:
            text_block("none yet")
        for folder in history.value:
            with solara.Row():
                solara.Text(str(folder))
                solara.FileDownload(lambda folder=folder: zip_run(folder), filename=f"{folder.name}.zip",
                                    label="Download")  # fmt: skip


def session_context() -> Any:
    """This session's context, which a thread enters to set its state; a notebook's kernel is one session and
    has none (its state is the kernel's own)."""
    if kernel_context.has_current_context():
        return kernel_context.get_current_context()
    return contextlib.nullcontext()


def session_id() -> str:
    """This session's id ("notebook" in a notebook's kernel)."""
    return kernel_context.get_current_context().id if kernel_context.has_current_context() else "notebook"


def free_session_runs() -> Callable[[], None]:
    """When a session closes (its tab gone for a while), its runs stop and their slots free."""
    session = session_id()

    def cleanup() -> None:
        for job in SESSION_JOBS.pop(session, []):
            job.cancel()

    return cleanup


def keep(job: LiveRun | CompareRun) -> None:
    """Note a job of this session, for `free_session_runs`."""
    SESSION_JOBS.setdefault(session_id(), []).append(job)


solara.lab.on_kernel_start(free_session_runs)


@solara.component_vue(str(Path(__file__).with_name("tabs.vue")))
def PageTabs(names: list[str], pages: list[solara.Element], event_shown: Callable[[int], None]) -> None:
    """The pages as tabs, switched in the browser (Solara's Tabs waits for the server, which a run slows);
    `event_shown` is told the index of the page shown."""


@solara.component
def Page() -> None:
    solara.Title("scslab lab")
    PlotlyPreload()
    with solara.Column(style="max-width: 1400px; margin: 0 auto; padding: 8px"):
        solara.HTML(tag="h2", unsafe_innerHTML="scslab lab: design a scoring system, run it, open the cases",
                    style="margin: 4px 0")  # fmt: skip
        PageTabs(names=list(PAGES), pages=[DesignPage(), RunPage(), ComparePage(), PeoplePage(), AuditPage(),
                                           SessionsPage()], event_shown=tab.set)  # fmt: skip


def random_choice(items: pd.Index) -> Any:
    return items[random.randrange(len(items))]
