"""The named RFM segments: one explicit map from every R/F/M score code (111 … 555) to a segment.

The map is defined by rules over score ranges and those rules partition the 5 × 5 × 5 cube: every
code satisfies exactly one rule (tests check this, so a rule cannot silently shadow another).
Each segment's description is generated from its own ranges, so the text and the map cannot
disagree. It follows the widely used R × F grid, with M splitting the long-gone, low-frequency
corner into "Hibernating" (still worth a win-back) and "Lost" (low value too).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import product

import pandas as pd

SCORES = range(1, 6)


@dataclass(frozen=True)
class Segment:
    name: str
    recency: tuple[int, int]    # inclusive score ranges; 5 = most recent / most orders / most spend
    frequency: tuple[int, int]
    monetary: tuple[int, int]
    meaning: str
    action: str

    def contains(self, r: int, f: int, m: int) -> bool:
        return all(lo <= v <= hi for v, (lo, hi) in
                   zip((r, f, m), (self.recency, self.frequency, self.monetary), strict=True))

    @property
    def rule(self) -> str:
        """The score ranges in words, e.g. 'R 5, F 4–5, any M'."""
        parts = []
        for letter, (lo, hi) in zip("RFM", (self.recency, self.frequency, self.monetary),
                                    strict=True):
            if (lo, hi) == (1, 5):
                parts.append(f"any {letter}")
            else:
                parts.append(f"{letter} {lo}" if lo == hi else f"{letter} {lo}–{hi}")
        return ", ".join(parts)


ANY = (1, 5)

# Ordered from best to worst customers; the order is for display only (rules do not overlap).
SEGMENTS: tuple[Segment, ...] = (
    Segment("Champions", (5, 5), (4, 5), ANY,
            "bought very recently and buy most often", "reward them; early access, referrals"),
    Segment("Loyal", (3, 4), (4, 5), ANY,
            "buy often, last purchase not the most recent", "upsell; loyalty programme"),
    Segment("Potential loyalist", (4, 5), (2, 3), ANY,
            "recent customers with a few orders", "membership offers; recommend next products"),
    Segment("New", (5, 5), (1, 1), ANY,
            "first and only order very recently", "onboard well; make the second order easy"),
    Segment("Promising", (4, 4), (1, 1), ANY,
            "one recent order", "build the relationship; free shipping on the next order"),
    Segment("Need attention", (3, 3), (3, 3), ANY,
            "middling recency and frequency", "limited-time offers based on past purchases"),
    Segment("About to sleep", (3, 3), (1, 2), ANY,
            "few orders, last one a while ago", "reactivate with popular products and discounts"),
    Segment("At risk", (1, 2), (3, 4), ANY,
            "used to buy fairly often, not for a long time", "personal win-back emails, renewals"),
    Segment("Can't lose", (1, 2), (5, 5), ANY,
            "were among the most frequent buyers, long gone", "win them back; ask what went wrong"),
    Segment("Hibernating", (1, 2), (1, 2), (3, 5),
            "few orders long ago, but spent well", "win-back offer on their category"),
    Segment("Lost", (1, 2), (1, 2), (1, 2),
            "few, small orders long ago", "low-cost reactivation only; otherwise let go"),
)

SEGMENT_NAMES: tuple[str, ...] = tuple(s.name for s in SEGMENTS)


class SegmentMapError(ValueError):
    """The segment rules do not cover every code exactly once."""


def rfm_code(r: int, f: int, m: int) -> str:
    return f"{r}{f}{m}"


def segment_for(r: int, f: int, m: int, segments: tuple[Segment, ...] = SEGMENTS) -> str:
    """The segment of one score triple; raises when no rule or more than one rule matches."""
    matches = [s.name for s in segments if s.contains(r, f, m)]
    if len(matches) != 1:
        what = "no segment" if not matches else f"several segments {matches}"
        raise SegmentMapError(f"RFM code {rfm_code(r, f, m)} matches {what}")
    return matches[0]


def segment_map(segments: tuple[Segment, ...] = SEGMENTS) -> pd.DataFrame:
    """All 125 codes with their segment: rfm_code, r_score, f_score, m_score, segment."""
    rows = [{"rfm_code": rfm_code(r, f, m), "r_score": r, "f_score": f, "m_score": m,
             "segment": segment_for(r, f, m, segments)}
            for r, f, m in product(SCORES, SCORES, SCORES)]
    return pd.DataFrame(rows)


def describe_segments(segments: tuple[Segment, ...] = SEGMENTS) -> pd.DataFrame:
    """One row per segment: its rule, meaning, suggested action and how many codes it covers."""
    sizes = segment_map(segments)["segment"].value_counts()
    return pd.DataFrame([{"segment": s.name, "rule": s.rule, "codes": int(sizes.get(s.name, 0)),
                          "meaning": s.meaning, "action": s.action} for s in segments])


def segment_grid(segments: tuple[Segment, ...] = SEGMENTS) -> pd.DataFrame:
    """The R × F grid of segment names (M shown where it splits a cell), for the notebook."""
    table = segment_map(segments)
    cells = table.groupby(["r_score", "f_score"])["segment"].agg(
        lambda names: " / ".join(dict.fromkeys(names)))
    return cells.unstack("f_score").sort_index(ascending=False).rename_axis(
        index="R score", columns="F score")


def segment_order(segments: Iterable[str]) -> list[str]:
    """The kit's segments best to worst, then any others (a custom map) alphabetically."""
    known = [s.name for s in SEGMENTS]
    present = set(segments)
    return [s for s in known if s in present] + sorted(present - set(known))
