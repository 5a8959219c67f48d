"""The trace (MODEL.md section 8, "The trace"): every charge posted to chosen citizens, and every
sanction and reward they felt, with its day.

A `TraceSpec` says whom to trace (`listed`, `all`, `panel:N`, `ids:FILE`, or ids given in Python);
a `Trace` (held by the state, so that a checkpoint carries it) keeps a mask of the traced citizens
and appends, as the phases post them, only the rows whose citizen is traced, to preallocated
arrays that double when full: the cost follows the traced citizens' events.

Ledger rows replay the ledgers exactly: in row order, adding each row's points to its ledger
gives every traced citizen's final ledgers bit for bit. A recovery row is the change that one
recovery step made (one day under eager recovery, a span of days under scheduled recovery,
docs/model.md "Recovery in closed form"); an `appeal_won` row strikes out the misattributed
points. Recovering citizens are settled where the kernels would settle them anyway, so tracing
changes no output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
from numba import njit

from scslab.errors import ScslabError
from scslab.model.ledgers import L_ASSOCIATION, L_MERIT, L_MISATTRIBUTED, L_OWN
from scslab.model.recovery import REC_DAY

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from scslab.model.state import State

KINDS = ("listed", "all", "panel", "ids")
LEDGERS = ("own", "misattributed", "association", "merit")  # codes: the ledger columns L_OWN ... L_MERIT
assert (L_OWN, L_MISATTRIBUTED, L_ASSOCIATION, L_MERIT) == (0, 1, 2, 3)
RECOVERY, APPEAL_WON = -1, -2  # event codes of the rows that are not charges
NO_ID = -1
FIRST_CAPACITY = 1024
BLOCK = 1 << 20  # rows of a full block (`Rows`)
PANEL_KEY = 0x7472616365  # ("trace"): the panel's draws, apart from the run's streams
# Bytes of one row in memory (the recorder's arrays) and, roughly, in trace.parquet.
ROW_BYTES = 4 + 4 + 4 + 2 + 1 + 8 + 4 + 4 + 1
ROW_DISK_BYTES = 16

CHARGE_SCHEMA = pa.schema(
    [
        ("citizen", pa.int64()),
        ("event_day", pa.int32()),
        ("posted_day", pa.int32()),
        ("event", pa.dictionary(pa.int16(), pa.string())),
        ("source", pa.dictionary(pa.int16(), pa.string())),
        ("points", pa.float64()),
        ("ledger", pa.dictionary(pa.int8(), pa.string())),
        ("actor", pa.int64()),
        ("contact", pa.int64()),
        ("layer", pa.dictionary(pa.int8(), pa.string())),
    ]
)
SANCTION_SCHEMA = pa.schema(
    [
        ("citizen", pa.int64()),
        ("day", pa.int32()),
        ("effect", pa.dictionary(pa.int16(), pa.string())),
        ("what", pa.dictionary(pa.int16(), pa.string())),
        ("detail", pa.dictionary(pa.int16(), pa.string())),
        ("count", pa.int32()),
    ]
)
CHARGE_COLUMNS = (
    ("citizen", np.int32),
    ("event_day", np.int32),
    ("posted_day", np.int32),
    ("event", np.int16),
    ("ledger", np.int8),
    ("points", np.float64),
    ("actor", np.int32),
    ("contact", np.int32),
    ("layer", np.int8),
)
SANCTION_COLUMNS = (
    ("citizen", np.int32),
    ("day", np.int32),
    ("effect", np.int16),
    ("what", np.int16),
    ("detail", np.int16),
    ("count", np.int32),
)


@dataclass(frozen=True)
class TraceSpec:
    """Whom a run traces: everyone ever listed, everyone, a panel of `size` drawn from the seed, or `ids`."""

    kind: str
    size: int = 0  # panel:N
    ids: tuple[int, ...] = ()  # ids:FILE or ids given in Python
    text: str = ""  # as written (`--trace` value)

    def __str__(self) -> str:
        if self.text:
            return self.text
        return {"panel": f"panel:{self.size}", "ids": f"{len(self.ids)} ids"}.get(self.kind, self.kind)


def _spec_error(value: object, why: str) -> ScslabError:
    return ScslabError(f"--trace {str(value)[:60]}: {why} (allowed: listed, all, panel:N, ids:FILE)")


def parse_trace(value: str | Sequence[int] | TraceSpec | None) -> TraceSpec | None:
    """A trace spec from `--trace` text (`listed`, `all`, `panel:N`, `ids:FILE`), a sequence of citizen
    ids, or a spec; None for no trace. A bad value or file is one ScslabError line."""
    if value is None or isinstance(value, TraceSpec):
        return value
    if not isinstance(value, str):
        try:
            ids = np.asarray(value)
            if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
                raise TypeError
        except (TypeError, ValueError):
            raise _spec_error(value, "ids must be a sequence of integers") from None
        if ids.size == 0:
            raise _spec_error(value, "no citizen ids")
        return TraceSpec("ids", ids=tuple(int(i) for i in ids), text="")
    text = value.strip()
    if text in ("listed", "all"):
        return TraceSpec(text, text=text)
    kind, sep, arg = text.partition(":")
    if kind == "panel" and sep:
        if not arg.isdigit() or int(arg) <= 0:
            raise _spec_error(value, f"panel size {arg!r} is not a positive whole number")
        return TraceSpec("panel", size=int(arg), text=text)
    if kind == "ids" and sep:
        return TraceSpec("ids", ids=read_ids(Path(arg)), text=text)
    raise _spec_error(value, "unknown trace")


def read_ids(path: Path) -> tuple[int, ...]:
    """Citizen ids from a file: one a line (text), or a `citizen` column (.csv, .parquet)."""
    where = f"--trace ids:{path}"
    if not path.is_file():
        raise ScslabError(f"{where}: no such file (allowed: a file of citizen ids, one a line, or a CSV or Parquet "
                          f"file with a citizen column)")  # fmt: skip
    try:
        if path.suffix.lower() in (".csv", ".parquet"):
            frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
            if "citizen" not in frame.columns:
                raise ScslabError(f"{where}: no citizen column (allowed: a CSV or Parquet file with a citizen column)")
            raw = [str(v) for v in frame["citizen"].tolist()]
        else:
            raw = [line.strip() for line in path.read_text().splitlines()]
            raw = [line for line in raw if line and not line.startswith("#")]
    except ScslabError:
        raise
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ScslabError(f"{where}: unreadable ({type(exc).__name__}; allowed: citizen ids, one a line)") from None
    bad = next((v for v in raw if not v.isdigit()), None)
    if bad is not None:
        raise ScslabError(f"{where}: {bad[:30]!r} is not a citizen id (allowed: whole numbers from 0)")
    if not raw:
        raise ScslabError(f"{where}: no citizen ids (allowed: citizen ids, one a line)")
    return tuple(int(v) for v in raw)


def check_ids(spec: TraceSpec | None, n: int) -> None:
    """A one-line ScslabError when `spec` names a citizen outside a population of `n` (or a larger panel)."""
    if spec is not None and spec.kind in ("ids", "panel"):
        traced_mask(spec, n, 0)


def traced_mask(spec: TraceSpec, n: int, seed: int) -> np.ndarray:
    """The traced citizens of a run of `n` citizens with `seed`, as a mask (checks the spec against `n`)."""
    mask = np.zeros(n, dtype=bool)
    if spec.kind in ("listed", "all"):
        mask[:] = True
    elif spec.kind == "panel":
        if spec.size > n:
            raise _spec_error(spec, f"a panel of {spec.size} in a population of {n}")
        rng = np.random.default_rng([PANEL_KEY, seed])  # (not the run's streams: they are untouched)
        mask[rng.choice(n, size=spec.size, replace=False)] = True
    else:
        ids = np.asarray(spec.ids, dtype=np.int64)
        bad = ids[(ids < 0) | (ids >= n)]
        if bad.size:
            raise _spec_error(spec, f"citizen {int(bad[0])} is not in the population (ids 0 to {n - 1})")
        mask[ids] = True
    return mask


def expected_citizens(spec: TraceSpec, n: int) -> int:
    """How many citizens a trace records while the run goes (a `listed` trace records everyone)."""
    if spec.kind in ("listed", "all"):
        return n
    if spec.kind == "panel":
        return min(spec.size, n)
    return len(set(spec.ids))


class Rows:
    """Growable parallel columns: a block that doubles from FIRST_CAPACITY up to BLOCK rows, then full
    blocks kept as they are and a new block of BLOCK rows (so that growing never copies more than a
    block, and the memory is the rows' own)."""

    def __init__(self, columns: tuple[tuple[str, type[np.generic]], ...]) -> None:
        self.full: list[dict[str, np.ndarray]] = []
        self.current = {name: np.zeros(FIRST_CAPACITY, dtype=dtype) for name, dtype in columns}
        self.used = 0  # rows in `current`
        self.count = 0  # rows in all

    def append(self, values: dict[str, Any], k: int) -> None:
        """Write `k` rows of `values` (arrays of k, or scalars; a missing column: NO_ID)."""
        done = 0
        while done < k:
            capacity = self.current["citizen"].size
            if self.used == capacity:
                self._grow(capacity)
                capacity = self.current["citizen"].size
            m = min(k - done, capacity - self.used)
            end = self.used + m
            for name, col in self.current.items():
                value = values.get(name, NO_ID)
                col[self.used : end] = value[done : done + m] if isinstance(value, np.ndarray) else value
            self.used, done = end, done + m
        self.count += k

    def _grow(self, capacity: int) -> None:
        """Room for more rows: the current block doubled, or, at BLOCK rows, a new block."""
        if capacity < BLOCK:
            for name, old in self.current.items():
                new = np.zeros(min(2 * capacity, BLOCK), dtype=old.dtype)
                new[:capacity] = old
                self.current[name] = new
            return
        self.full.append(self.current)
        self.current = {name: np.zeros(BLOCK, dtype=old.dtype) for name, old in self.current.items()}
        self.used = 0

    def columns(self, keep: Callable[[np.ndarray], np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Every row so far, column by column (only the rows `keep(citizen)` marks, when given)."""
        blocks = [*self.full, {name: col[: self.used] for name, col in self.current.items()}]
        masks = [keep(b["citizen"]) if keep is not None else None for b in blocks]
        return {
            name: np.concatenate([b[name] if m is None else b[name][m] for b, m in zip(blocks, masks, strict=True)])
            for name in self.current
        }


class Trace:
    """The traced citizens' mask and their rows so far: ledger rows (`CHARGE_COLUMNS`) and felt
    sanctions and rewards (`SANCTION_COLUMNS`).

    `vocab` holds the strings that the effects' rows name (effect, what, detail), coded by position;
    `held` keeps, per citizen, a bit per effect of the registry that it reached at the last look
    (for the effects that record spans); `today` is the day being simulated (set by the engine)."""

    def __init__(self, spec: TraceSpec, mask: np.ndarray, seed: int) -> None:
        self.kind = spec.kind
        self.mask = mask
        self.seed = seed
        self.today = 0
        self.charges = Rows(CHARGE_COLUMNS)
        self.sanctions = Rows(SANCTION_COLUMNS)
        self.vocab: list[str] = []
        self.held = np.zeros(mask.size, dtype=np.uint16)

    def code(self, word: str) -> int:
        """The code of `word` in `vocab` (added when new)."""
        if word not in self.vocab:
            self.vocab.append(word)
        return self.vocab.index(word)

    def add_charges(self, k: int, **values: Any) -> None:
        """Append `k` ledger rows (`CHARGE_COLUMNS`; actor, contact and layer default to none)."""
        if k:
            self.charges.append(values, k)

    def add_felt(self, k: int, **values: Any) -> None:
        """Append `k` felt rows (`SANCTION_COLUMNS`)."""
        if k:
            self.sanctions.append(values, k)


def attach(state: State, spec: TraceSpec | None, seed: int) -> None:
    """Trace `spec`'s citizens in the run of `state` from now on (None: no trace)."""
    state.trace = None if spec is None else Trace(spec, traced_mask(spec, state.n, seed), seed)


# --- ledger rows --------------------------------------------------------------------------------


def event_days(state: State, event: np.ndarray, posted: int) -> np.ndarray:
    """The day each charge of `event` types that lands on `posted` happened (minus its source's delay)."""
    cp = state.cp
    return (posted - cp.sources.delay[cp.events.source[event]]).astype(np.int32)


def record_charges(
    state: State, target: np.ndarray, event: np.ndarray, misattributed: np.ndarray, actor: np.ndarray | None, day: int
) -> None:
    """The day's direct charges to traced targets, in the order they are posted."""
    tr = state.trace
    if tr is None:
        return
    sel = np.flatnonzero(tr.mask[target])
    if sel.size == 0:
        return
    ev = event[sel]
    points = state.cp.events.points[ev]
    mis = misattributed[sel]
    ledger = np.where(mis, L_MISATTRIBUTED, np.where(points < 0, L_OWN, L_MERIT))
    who = np.full(sel.size, NO_ID, dtype=np.int64) if actor is None else np.where(mis, actor[sel], NO_ID)
    tr.add_charges(sel.size, citizen=target[sel], event_day=event_days(state, ev, day), posted_day=day, event=ev,
                   ledger=ledger, points=points, actor=who)  # fmt: skip


@njit(cache=True, nogil=True)
def traced_contacts(  # pragma: no cover - compiled
    indices: np.ndarray, active: np.ndarray, start: np.ndarray, offset: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The traced active contacts of each row's span (as `posting.post_to_contacts` visits them), with
    their rows."""
    contact = np.empty(int(offset[-1]), dtype=np.int64)
    row = np.empty(int(offset[-1]), dtype=np.int64)
    n = 0
    for r in range(start.size):
        for slot in range(start[r], start[r] + offset[r + 1] - offset[r]):
            if active[slot] and mask[indices[slot]]:
                contact[n] = indices[slot]
                row[n] = r
                n += 1
    return contact[:n], row[:n]


def association_rows(
    state: State,
    layer_code: int,
    contact: np.ndarray,
    row: np.ndarray,
    target: np.ndarray,
    event: np.ndarray,
    amount: np.ndarray,
    day: int,
) -> None:
    """Record the association points that one layer passes on today to traced contacts
    (`traced_contacts`: each `contact` gets `amount[row]` from `target[row]`'s charge of `event[row]`)."""
    tr = state.trace
    assert tr is not None
    if contact.size:
        ev = event[row]
        tr.add_charges(contact.size, citizen=contact, event_day=event_days(state, ev, day), posted_day=day, event=ev,
                       ledger=L_ASSOCIATION, points=amount[row], contact=target[row], layer=layer_code)  # fmt: skip


def before_change(state: State, ids: np.ndarray, cur: int, eager: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The traced among `ids` (distinct) whose ledgers recovery may change now, their negative ledgers
    and the first day that the change covers (under scheduled recovery, the day after the one their
    ledgers were settled through; under eager recovery, `cur`)."""
    tr = state.trace
    assert tr is not None
    t = ids if tr.kind in ("all", "listed") else ids[tr.mask[ids]]
    if not eager:
        through = state.sched[t, REC_DAY]
        behind = through < cur  # (settling changes only those; NOT_RECOVERING is above every day)
        t, first = t[behind], through[behind] + 1
    else:
        first = np.full(t.size, cur, dtype=np.int32)
    return t, state.ledgers[t, :L_MERIT], first


def after_change(state: State, seen: tuple[np.ndarray, np.ndarray, np.ndarray], cur: int) -> None:
    """Record, as recovery rows, how the negative ledgers of the citizens `before_change` saw moved."""
    tr = state.trace
    assert tr is not None
    t, old, first = seen
    delta = state.ledgers[t, :L_MERIT] - old  # (exact: one recovery step, whose share is at most the ledger)
    who, ledger = np.nonzero(delta)
    if who.size:
        tr.add_charges(who.size, citizen=t[who], event_day=first[who], posted_day=cur, event=RECOVERY, ledger=ledger,
                       points=delta[who, ledger])  # fmt: skip


def struck_out(state: State, ids: np.ndarray, day: int) -> None:
    """Record the misattributed points of `ids` (appeals won today) about to be struck out."""
    tr = state.trace
    if tr is None or ids.size == 0:
        return
    t = ids[tr.mask[ids]]
    points = state.ledgers[t, L_MISATTRIBUTED]
    t, points = t[points != 0], points[points != 0]
    tr.add_charges(t.size, citizen=t, event_day=day, posted_day=day, event=APPEAL_WON, ledger=L_MISATTRIBUTED,
                   points=-points)  # fmt: skip


# --- felt sanctions and rewards -----------------------------------------------------------------


def felt(
    state: State, effect: str, what: str, ids: np.ndarray, detail: np.ndarray | str | None = None,
    count: np.ndarray | None = None,
) -> None:  # fmt: skip
    """Record that `ids` (repeats allowed: each is one, or `count[j]`) felt `what` of `effect` today, with
    `detail` (one string, or one a row); rows of a day are summed by citizen and detail."""
    tr = state.trace
    if tr is None or ids.size == 0:
        return
    sel = tr.mask[ids] if count is None else tr.mask[ids] & (np.asarray(count) > 0)
    if not sel.any():
        return
    ids = np.asarray(ids, dtype=np.int64)[sel]
    n = np.ones(ids.size, dtype=np.int64) if count is None else np.asarray(count, dtype=np.int64)[sel]
    if isinstance(detail, np.ndarray):
        words = detail[sel]
        codes = np.array([tr.code(str(w)) for w in np.unique(words)], dtype=np.int64)
        detail_code = codes[np.searchsorted(np.unique(words), words)]
    else:
        detail_code = np.full(ids.size, NO_ID if detail is None else tr.code(detail), dtype=np.int64)
    key = ids * (1 << 16) + (detail_code + 1)
    keys, inverse = np.unique(key, return_inverse=True)
    total = np.bincount(inverse, weights=n).astype(np.int32)
    tr.add_felt(keys.size, citizen=keys >> 16, day=tr.today, effect=tr.code(effect), what=tr.code(what),
                detail=(keys & 0xFFFF) - 1, count=total)  # fmt: skip


def spans(state: State, ids: np.ndarray | None = None) -> None:
    """For each effect that declares `reaches` and its `spans` words, record when a traced citizen of
    `ids` (default: those whose score or listing changed today) starts or stops being reached."""
    from scslab.model import effects  # (the registry imports the effects, which import this module)
    from scslab.model.effects.base import changed_today

    tr = state.trace
    if tr is None:
        return
    ids = changed_today(state) if ids is None else ids
    ids = np.asarray(ids, dtype=np.int64)
    ids = ids[tr.mask[ids]]
    if ids.size == 0:
        return
    for bit, effect in enumerate(effects.REGISTRY):
        if (
            effect.reaches is None
            or effect.spans is None
            or not (state.cp.sanctions.get(effect.key) or state.cp.rewards.get(effect.key))
        ):
            continue
        now = effect.reaches(state, ids)
        was = (tr.held[ids] >> bit) & 1 == 1
        start, stop = ids[now & ~was], ids[was & ~now]
        tr.held[start] |= np.uint16(1 << bit)
        tr.held[stop] &= np.uint16(~(1 << bit) & 0xFFFF)
        felt(state, effect.key, effect.spans[0], start)
        felt(state, effect.key, effect.spans[1], stop)


def split_among(state: State, ids: np.ndarray, weight: np.ndarray, total: int, day: int, key: int) -> np.ndarray:
    """`total` drawn among `ids` in proportion to `weight` (multinomial, from the trace's own draws, so that
    the run's streams are untouched): who got each one (a Poisson total split this way is each one's
    own Poisson count)."""
    tr = state.trace
    if tr is None or total == 0 or ids.size == 0:
        return np.empty(0, dtype=np.int64)
    rng = np.random.default_rng([PANEL_KEY, tr.seed, day, key])
    counts = rng.multinomial(total, weight / weight.sum())
    return np.repeat(np.asarray(ids, dtype=np.int64), counts)


# --- tables -------------------------------------------------------------------------------------


def _dictionary(codes: np.ndarray, words: Sequence[str], width: Any) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(width), mask=codes < 0), pa.array(list(words)))


def _keep(state: State) -> Callable[[np.ndarray], np.ndarray] | None:
    """Which rows a `listed` trace keeps: those of citizens ever listed (all rows otherwise)."""
    tr = state.trace
    if tr is None or tr.kind != "listed":
        return None
    return lambda citizen: state.ever_blacklisted[citizen]


def charge_table(state: State) -> pa.Table:
    """trace.parquet's table (`CHARGE_SCHEMA`): the traced citizens' ledger rows in the order posted
    (empty without a trace)."""
    tr = state.trace
    c: dict[str, np.ndarray] = (
        tr.charges.columns(_keep(state)) if tr else {name: np.zeros(0, dtype=dtype) for name, dtype in CHARGE_COLUMNS}
    )
    cp = state.cp
    names = (*cp.events.names, "recovery", "appeal_won")
    event = np.where(c["event"] >= 0, c["event"], len(cp.events.names) - 1 - c["event"].astype(np.int64))
    is_charge = c["event"] >= 0
    source = np.where(is_charge, cp.events.source[np.where(is_charge, c["event"], 0)], -1)
    layers = tuple(state.pop.layers)
    columns = [
        pa.array(c["citizen"].astype(np.int64)),
        pa.array(c["event_day"]),
        pa.array(c["posted_day"]),
        _dictionary(event, names, np.int16),
        _dictionary(source, cp.sources.names, np.int16),
        pa.array(c["points"]),
        pa.array(c["actor"].astype(np.int64), mask=c["actor"] < 0),
        pa.array(c["contact"].astype(np.int64), mask=c["contact"] < 0),
        _dictionary(c["layer"].astype(np.int64), layers, np.int8),
        _dictionary(c["ledger"].astype(np.int64), LEDGERS, np.int8),
    ]
    order = ["citizen", "event_day", "posted_day", "event", "source", "points", "actor", "contact", "layer", "ledger"]
    table = pa.Table.from_arrays(columns, names=order)
    return table.select([f.name for f in CHARGE_SCHEMA]).cast(CHARGE_SCHEMA)


def sanction_table(state: State) -> pa.Table:
    """sanctions.parquet's table (`SANCTION_SCHEMA`): what the traced citizens felt, in the order felt
    (empty without a trace)."""
    tr = state.trace
    s: dict[str, np.ndarray] = tr.sanctions.columns(_keep(state)) if tr else {
        name: np.zeros(0, dtype=dtype) for name, dtype in SANCTION_COLUMNS}  # fmt: skip
    vocab = tr.vocab if tr else []
    columns = [
        pa.array(s["citizen"].astype(np.int64)),
        pa.array(s["day"]),
        _dictionary(s["effect"].astype(np.int64), vocab, np.int16),
        _dictionary(s["what"].astype(np.int64), vocab, np.int16),
        _dictionary(s["detail"].astype(np.int64), vocab, np.int16),
        pa.array(s["count"]),
    ]
    return pa.Table.from_arrays(columns, schema=SANCTION_SCHEMA)


def frame(table: pa.Table) -> pd.DataFrame:
    """A trace table as a data frame: categorical strings, nullable actor and contact (Int64)."""
    out = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    out["citizen"] = out["citizen"].astype(np.int64)
    return out
