"""A case told in words: the summary sentences and the timeline, every phrase built from the case's fields."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from scslab.cases.casefile import APPEAL_WON, NOT_CHARGES, RECOVERY

if TYPE_CHECKING:
    from scslab.cases.casefile import CaseFile

CAUSE_PHRASES = {
    "own_conduct": "their own conduct",
    "misattribution": "charges misattributed to them",
    "association": "guilt by association",
    "listed_offence": "a listed offence",
    "joint_punishment": "the listing of the firm they represent",
}
EXIT_PHRASES = {
    "term_ended": "their term ended",
    "score_recovered": "their score recovered and they left the list",
    "appeal_won": "an appeal cleared them",
    "firm_delisted": "their firm left its blacklist",
}
KIND_ORDER = {"own": 0, "misattributed": 0, "association": 0, "merit": 0, "recovery": 1, "appeal": 2, "listed": 2,
              "listing": 2, "left the list": 2, "still listed": 2, "sanction": 3}  # fmt: skip


def number(x: float) -> str:
    """A count or score as written: 18,204; 785; 785.5."""
    return f"{float(x):,.10g}"


def points(x: float) -> str:
    """Points with their sign, a true minus: −5, +20."""
    return f"{float(x):+,.10g}".replace("-", "\u2212")


def citizen(i: Any) -> str:
    return f"citizen {int(i):,}"


def listing(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def count(n: int) -> str:
    """A count in words up to ten, in figures above: 'three', '1,204'."""
    return WORDS[n] if 0 <= n < len(WORDS) else f"{n:,}"


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{count(n)} {word if n == 1 else (many or word + 's')}"


def who(case: CaseFile) -> str:
    """'Citizen 18,204 (minority, employee, district 3)', with 'party member' when they are one."""
    if not len(case.person):
        return citizen(case.citizen).capitalize()
    p = case.person.iloc[0]
    traits = [str(p["group"]), str(p["occupation"]).replace("_", " "), f"district {int(p['district'])}"]
    if bool(p["party_member"]):
        traits.append("party member")
    return f"{citizen(case.citizen).capitalize()} ({', '.join(traits)})"


def profile(case: CaseFile) -> str:
    """Every attribute of the person, for the head of a timeline."""
    if not len(case.person):
        return ""
    p = case.person.iloc[0]
    return (f"{p['group']}, {str(p['occupation']).replace('_', ' ')}, district {int(p['district'])}, income "
            f"quintile {int(p['income_q'])}, {'party member' if bool(p['party_member']) else 'not a party member'}, "
            f"age band {p['age_band']}; final score {number(p['score'])}")  # fmt: skip


def charge_cause(row: Any) -> str:
    """Why a charge landed on this citizen, from its ledger, true actor, contact and layer."""
    ledger = row["ledger"]
    if row["event"] == RECOVERY:
        return "recovery after clean days"
    if row["event"] == APPEAL_WON:
        return "a won appeal struck out the misattributed points"
    if ledger == "misattributed":
        actor = "" if pd.isna(row["actor"]) else f", true actor {citizen(row['actor'])}"
        return f"misattributed: the {row['source']} source matched the wrong person{actor}"
    if ledger == "association":
        via = "" if pd.isna(row["layer"]) else f" via the {row['layer']} layer"
        return f"association: passed on from contact {citizen(row['contact'])}{via}"
    if ledger == "merit":
        return "reward for their own conduct"
    return "own offence"


def _group_phrase(rows: pd.DataFrame) -> str:
    """One kind of charge, as 'N charges of −5 for jaywalking (seen by cameras), none of them theirs (...)'."""
    first = rows.iloc[0]
    n = len(rows)
    what = f"{plural(n, 'charge')} of {points(first['points'])} for {first['event']}"
    ledger = first["ledger"]
    if ledger == "misattributed":
        actors = sorted({int(a) for a in rows["actor"].dropna()})
        truth = f"; true actor {listing([citizen(a) for a in actors])}" if actors else ""
        mine = "none of them theirs" if n > 1 else "not theirs"
        return f"{what} seen by {first['source']}, {mine} (the source matched the wrong person{truth})"
    if ledger == "association":
        contacts = sorted({int(c) for c in rows["contact"].dropna()})
        layers = sorted({str(x) for x in rows["layer"].dropna()})
        via = f" via the {listing(layers)} layer" if layers else ""
        return f"{what} passed on from {listing([citizen(c) for c in contacts])}{via}"
    if ledger == "merit":
        return f"{what} (seen by {first['source']})"
    return f"{what} (their own, seen by {first['source']})"


def charges_phrase(charges: pd.DataFrame) -> str:
    """The charges (recovery and appeals aside), grouped by event, points, ledger and source, in order of first
    posting."""
    rows = charges[~charges["event"].isin(NOT_CHARGES)]
    keys = ["ledger", "event", "points", "source"]
    groups = rows.groupby(keys, sort=False, dropna=False)
    return listing([_group_phrase(group) for _, group in groups])


def _felt(what: str, counts: list[tuple[str, int]]) -> str:
    """What was felt of one kind, as a verb phrase: 'were refused two train trips and one plane trip'."""
    if what == "trip denied":
        return "were refused " + listing([plural(n, f"{d} trip" if d else "trip") for d, n in counts])
    if what == "promotion blocked":
        return f"had {plural(sum(n for _, n in counts), 'promotion')} blocked"
    if what == "speech suppressed":
        return "had their speech suppressed " + listing([f"{plural(n, 'time')}" + (f" ({d})" if d else "")
                                                         for d, n in counts])  # fmt: skip
    return "felt " + listing([f"{number(n)} × {what}" + (f" ({d})" if d else "") for d, n in counts])


def sanctions_phrase(sanctions: pd.DataFrame) -> str:
    """What they felt, summed by kind and detail: 'were refused two train trips and felt 1 × loan penalised'."""
    if not len(sanctions):
        return ""
    sums = sanctions.groupby(["what", "detail"], sort=False, dropna=False)["count"].sum()
    kinds: dict[str, list[tuple[str, int]]] = {}
    for (what, detail), n in sums.items():
        kinds.setdefault(str(what), []).append(("" if pd.isna(detail) else str(detail), int(n)))
    return listing([_felt(what, counts) for what, counts in kinds.items()])


def summary(case: CaseFile) -> str:
    """Who they are and when they were listed; which charges brought them there; what they felt and how it ended."""
    ctx = case.context
    scores = case.score_by_day()["score"].to_numpy()
    if not len(case.listings):
        first = f"{who(case)} was never listed."
        moved = case.charges[~case.charges["event"].isin(NOT_CHARGES)]
        if not len(moved):
            return first + " No charge was posted to them."
        low = int(np.argmin(scores))
        text = (f"{first} {charges_phrase(moved).capitalize()} moved their score from {number(ctx.score_start)} "
                f"to {number(scores[-1])} (lowest {number(scores[low])} on {ctx.date(low)}).")  # fmt: skip
        felt = sanctions_phrase(case.sanctions)
        return text + (f" They {felt}." if felt else "")
    ep = case.listings.iloc[0]
    entry = int(ep["entry_day"])
    wrongly = ", wrongfully" if bool(ep["wrongful_at_entry"]) else ""
    out = [f"{who(case)} was listed on {ctx.date(entry)} for {CAUSE_PHRASES[str(ep['cause'])]}{wrongly}."]
    before = case.charges[case.charges["posted_day"] <= entry]
    bar = "" if ctx.threshold is None else f" (threshold {number(ctx.threshold)})"
    if len(before[~before["event"].isin(NOT_CHARGES)]):
        out.append(f"{charges_phrase(before).capitalize()} brought their score from {number(ctx.score_start)} to "
                   f"{number(scores[entry])}{bar}.")  # fmt: skip
    else:
        out.append(f"No charge had been posted to them: their score was {number(scores[entry])}{bar}.")
    out.append(_ending(case, ep))
    return " ".join(out)


def _ending(case: CaseFile, ep: Any) -> str:
    """The sanctions felt during the first listing, and how it ended; the number of listings if more than one."""
    ctx = case.context
    entry = int(ep["entry_day"])
    still = pd.isna(ep["exit_day"])
    end = ctx.days - 1 if still else int(ep["exit_day"])
    during = case.sanctions[(case.sanctions["day"] >= entry) & (case.sanctions["day"] <= end)]
    felt = sanctions_phrase(during)
    if still:
        close = f"were still listed at the end of the run ({ctx.date(end)})"
        text = f"They {felt} and {close}." if felt else f"They {close}."
    else:
        close = f"{EXIT_PHRASES[str(ep['exit_reason'])]} on {ctx.date(end)}"
        text = f"They {felt} before {close}." if felt else f"Then {close}."
    if len(case.listings) > 1:
        text += f" They were listed {count(len(case.listings))} times in all."
    return text


# --- the timeline ------------------------------------------------------------------------------


def timeline(case: CaseFile) -> pd.DataFrame:
    """Every dated line of the case: charges (runs of recovery merged), listing events, sanctions (merged
    between two other lines), in day order."""
    lines: list[tuple[int, str, str]] = []
    charges = case.charges
    recovering = charges["event"] == RECOVERY
    for _, row in charges[~recovering].iterrows():
        if row["event"] == APPEAL_WON:
            lines.append((int(row["posted_day"]), "appeal", f"{points(row['points'])}: {charge_cause(row)}"))
            continue
        said = f"{points(row['points'])} for {row['event']} ({row['source']}): {charge_cause(row)}"
        lines.append((int(row["posted_day"]), str(row["ledger"]), said))
    rec = charges[recovering]
    if len(rec):
        run = np.cumsum(np.r_[True, np.diff(rec.index.to_numpy()) != 1])  # consecutive recovery rows
        for _, part in rec.groupby(run):
            a, b = int(part["posted_day"].iloc[0]), int(part["posted_day"].iloc[-1])
            span = "" if a == b else f" (to {case.context.date(b)})"
            lines.append((a, "recovery", f"recovery: {points(part['points'].sum())} points{span}"))
    lines += _listing_lines(case)
    lines += _sanction_lines(case, sorted({d for d, _, _ in lines}))
    frame = pd.DataFrame(lines, columns=["day", "kind", "text"])
    frame["order"] = frame["kind"].map(KIND_ORDER).fillna(0)
    frame = frame.sort_values(["day", "order"], kind="stable").drop(columns="order").reset_index(drop=True)
    scores = case.score_by_day()["score"].to_numpy()
    frame.insert(1, "date", [case.context.date(d) for d in frame["day"]])
    frame["score"] = scores[np.clip(frame["day"].to_numpy(dtype=np.int64), 0, len(scores) - 1)]
    return frame


def _listing_lines(case: CaseFile) -> list[tuple[int, str, str]]:
    lines: list[tuple[int, str, str]] = []
    for _, ep in case.listings.iterrows():
        wrongful = bool(ep["wrongful_at_entry"])
        lines.append((int(ep["entry_day"]), "listed",
                      f"listed for {CAUSE_PHRASES[str(ep['cause'])]} ({'wrongful' if wrongful else 'rightful'})"))
        if not pd.isna(ep["offence_day"]):
            lines.append((int(ep["offence_day"]), "listing", "a listed offence made it a term listing"))
        for day in ep["wrongful_changes"]:
            wrongful = not wrongful
            lines.append((int(day), "listing", f"the listing became {'wrongful' if wrongful else 'rightful'}"))
        if pd.isna(ep["exit_day"]):
            lines.append((case.context.days - 1, "still listed", "still listed at the end of the run"))
        else:
            status = "wrongful" if bool(ep["wrongful_at_exit"]) else "rightful"
            lines.append((int(ep["exit_day"]), "left the list", f"{EXIT_PHRASES[str(ep['exit_reason'])]} ({status})"))
    return lines


def _sanction_lines(case: CaseFile, milestones: list[int]) -> list[tuple[int, str, str]]:
    """Sanctions of one kind between two other lines of the timeline, as one line."""
    s = case.sanctions
    if not len(s):
        return []
    segment = np.searchsorted(np.asarray(milestones, dtype=np.int64), s["day"].to_numpy(dtype=np.int64), "right")
    lines = []
    for (_, what, detail), part in s.groupby([segment, s["what"], s["detail"].fillna("")], sort=True):
        a, b = int(part["day"].min()), int(part["day"].max())
        span = "" if a == b else f" (to {case.context.date(b)})"
        kind = str(what).replace("_", " ") + (f" ({detail})" if detail else "")
        lines.append((a, "sanction", f"{number(part['count'].sum())} × {kind}{span}"))
    return lines


def timeline_html(case: CaseFile) -> str:
    """The timeline as an HTML table (a notebook's view of a case), every string escaped."""
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(r.date)}</td><td>{e(r.kind)}</td><td>{e(r.text)}</td>"
        f'<td style="text-align:right">{e(number(r.score))}</td></tr>'
        for r in timeline(case).itertuples(index=False)
    )
    bar = "" if case.context.threshold is None else f"; blacklist threshold {number(case.context.threshold)}"
    return (
        f'<div class="scs-case"><h3>{e(who(case))}</h3><p>{e(profile(case))}{e(bar)}</p>'
        f"<p>{e(case.summary())}</p><table><thead><tr><th>date</th><th>what</th><th>detail</th><th>score</th>"
        f"</tr></thead><tbody>{rows}</tbody></table></div>"
    )
