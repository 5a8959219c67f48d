"""The listing log (docs/model.md section 6): one record per listing episode, from entry to exit.

The sanctions phase opens an episode when it lists a citizen and closes it, with the reason,
when it takes them off; the metrics phase notes each day's end, when a listing's
wrongfulness is read (it can change while listed: section 6's table). Records live in
preallocated arrays that double when full, so the cost follows the listings (zeroed past the
records in use, so that two runs' logs are equal bit for bit).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from scslab.scenario.schema import CAUSES

EXIT_REASONS = ("term_ended", "score_recovered", "appeal_won", "firm_delisted", "still_listed")
TERM_ENDED, SCORE_RECOVERED, APPEAL_WON, FIRM_DELISTED, STILL_LISTED = range(len(EXIT_REASONS))
NO_DAY = -1  # an episode's exit day while open, and its offence day without a listed offence
FIRST_CAPACITY = 1024

# The columns of listings.parquet (docs/model.md, "The listing log").
SCHEMA = pa.schema(
    [
        ("citizen", pa.int64()),
        ("entry_day", pa.int32()),
        ("cause", pa.dictionary(pa.int8(), pa.string())),
        ("offence_day", pa.int32()),
        ("wrongful_at_entry", pa.bool_()),
        ("wrongful_changes", pa.list_(pa.int32())),
        ("exit_day", pa.int32()),
        ("exit_reason", pa.dictionary(pa.int8(), pa.string())),
        ("wrongful_at_exit", pa.bool_()),
    ]
)


class ListingLog:
    """Every listing episode of a run: who, when, why, whether wrongful, and how it ended.

    `open` maps a citizen to their open episode (-1 when not listed). A change of a listing's
    wrongfulness between two day ends is one (episode, day) record.
    """

    def __init__(self, n: int, capacity: int = FIRST_CAPACITY) -> None:
        self.open = np.full(n, -1, dtype=np.int32)
        self.episodes = 0
        self.citizen = np.zeros(capacity, dtype=np.int32)
        self.entry_day = np.zeros(capacity, dtype=np.int32)
        self.cause = np.zeros(capacity, dtype=np.int8)
        self.offence_day = np.zeros(capacity, dtype=np.int32)
        self.wrongful_at_entry = np.zeros(capacity, dtype=bool)
        self.wrongful_last = np.zeros(capacity, dtype=bool)  # at the last day end (or at entry)
        self.exit_day = np.zeros(capacity, dtype=np.int32)
        self.exit_reason = np.zeros(capacity, dtype=np.int8)
        self.wrongful_at_exit = np.zeros(capacity, dtype=bool)
        self.changes = 0
        self.change_episode = np.zeros(capacity, dtype=np.int32)
        self.change_day = np.zeros(capacity, dtype=np.int32)
        self.wrongful_listed = 0  # listings wrongful at the last day end

    def _room(self, episodes: int, changes: int) -> None:
        """Double the record arrays until `episodes` more episodes and `changes` more changes fit."""
        for names, used, more in (
            (EPISODE_COLUMNS, self.episodes, episodes),
            (("change_episode", "change_day"), self.changes, changes),
        ):
            capacity = getattr(self, names[0]).size
            if used + more <= capacity:
                continue
            while used + more > capacity:
                capacity *= 2
            for name in names:
                old = getattr(self, name)
                new = np.zeros(capacity, dtype=old.dtype)
                new[:used] = old[:used]
                setattr(self, name, new)

    def opened(self, ids: np.ndarray, cause: np.ndarray, wrongful: np.ndarray, day: int) -> None:
        """Open an episode for each of `ids` (distinct, newly listed) with its cause and wrongfulness."""
        self._room(ids.size, 0)
        at = slice(self.episodes, self.episodes + ids.size)
        self.citizen[at] = ids
        self.entry_day[at] = day
        self.cause[at] = cause
        self.offence_day[at] = NO_DAY
        self.wrongful_at_entry[at] = wrongful
        self.wrongful_last[at] = wrongful
        self.exit_day[at] = NO_DAY
        self.exit_reason[at] = STILL_LISTED
        self.wrongful_at_exit[at] = False
        self.open[ids] = np.arange(at.start, at.stop, dtype=np.int32)
        self.episodes = at.stop

    def offence(self, ids: np.ndarray, day: int) -> None:
        """A listed offence turned the listings of `ids` into term listings from `day`."""
        self.offence_day[self.open[ids]] = day

    def closed(self, ids: np.ndarray, reason: np.ndarray | int, wrongful: np.ndarray, day: int) -> None:
        """Close the episodes of `ids` (distinct, listed) on `day` with their exit reasons."""
        at = self.open[ids]
        self.exit_day[at] = day
        self.exit_reason[at] = reason
        self.wrongful_at_exit[at] = wrongful
        self.open[ids] = -1

    def day_end(self, ids: np.ndarray, wrongful: np.ndarray, day: int) -> None:
        """Note the wrongfulness of the listings of `ids` (every listed citizen) at the end of `day`."""
        at = self.open[ids]
        changed = at[self.wrongful_last[at] != wrongful]
        if changed.size:
            self._room(0, changed.size)
            self.change_episode[self.changes : self.changes + changed.size] = changed
            self.change_day[self.changes : self.changes + changed.size] = day
            self.changes += changed.size
            self.wrongful_last[changed] ^= True
        self.wrongful_listed = int(np.count_nonzero(wrongful))

    def table(self) -> pa.Table:
        """The episodes as listings.parquet's table (`SCHEMA`), in the order they began."""
        k = self.episodes
        still = self.exit_reason[:k] == STILL_LISTED
        order = np.argsort(self.change_episode[: self.changes], kind="stable")  # days stay in order
        offsets = np.zeros(k + 1, dtype=np.int32)
        np.cumsum(np.bincount(self.change_episode[: self.changes], minlength=k), out=offsets[1:])
        columns = [
            pa.array(self.citizen[:k].astype(np.int64)),
            pa.array(self.entry_day[:k]),
            pa.DictionaryArray.from_arrays(pa.array(self.cause[:k]), pa.array(CAUSES)),
            pa.array(self.offence_day[:k], mask=self.offence_day[:k] == NO_DAY),
            pa.array(self.wrongful_at_entry[:k]),
            pa.ListArray.from_arrays(pa.array(offsets), pa.array(self.change_day[: self.changes][order])),
            pa.array(self.exit_day[:k], mask=still),
            pa.DictionaryArray.from_arrays(pa.array(self.exit_reason[:k]), pa.array(EXIT_REASONS)),
            pa.array(self.wrongful_at_exit[:k], mask=still),
        ]
        return pa.Table.from_arrays(columns, schema=SCHEMA)


EPISODE_COLUMNS = (
    "citizen",
    "entry_day",
    "cause",
    "offence_day",
    "wrongful_at_entry",
    "wrongful_last",
    "exit_day",
    "exit_reason",
    "wrongful_at_exit",
)


def frame(table: pa.Table) -> pd.DataFrame:
    """listings.parquet's table as a data frame: nullable days and flags, categorical cause and reason."""
    return table.to_pandas(
        types_mapper={pa.int32(): pd.Int32Dtype(), pa.bool_(): pd.BooleanDtype()}.get,
    )
