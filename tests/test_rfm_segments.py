"""The segment map is total, unambiguous and agrees with its own description."""

from __future__ import annotations

import re
from itertools import product

import pytest

from rfmkit import rfm_segments
from rfmkit.rfm_segments import ANY, Segment, SegmentMapError


def test_every_code_maps_to_exactly_one_segment():
    table = rfm_segments.segment_map()
    assert len(table) == 125 and table["rfm_code"].is_unique
    assert set(table["rfm_code"]) == {f"{r}{f}{m}" for r, f, m in product(range(1, 6), repeat=3)}
    for row in table.itertuples():
        matching = [s.name for s in rfm_segments.SEGMENTS if s.contains(row.r_score, row.f_score,
                                                                     row.m_score)]
        assert matching == [row.segment]


def _ranges_from_rule(rule: str) -> dict[str, tuple[int, int]]:
    """Read the ranges back from the published description text."""
    ranges = {}
    for letter in "RFM":
        if f"any {letter}" in rule:
            ranges[letter] = (1, 5)
            continue
        found = re.search(rf"{letter} (\d)(?:–(\d))?", rule)
        assert found, (letter, rule)
        lo = int(found.group(1))
        ranges[letter] = (lo, int(found.group(2) or lo))
    return ranges


def test_description_is_consistent_with_the_map():
    """Each segment's published rule, read back from its text, selects exactly its codes."""
    described = rfm_segments.describe_segments()
    table = rfm_segments.segment_map()
    for row in described.itertuples():
        ranges = _ranges_from_rule(row.rule)
        selected = {f"{r}{f}{m}" for r, f, m in product(range(1, 6), repeat=3)
                    if all(lo <= v <= hi for v, (lo, hi) in zip((r, f, m), ranges.values(),
                                                                 strict=True))}
        assert selected == set(table.loc[table["segment"] == row.segment, "rfm_code"]), row.segment
        assert row.codes == len(selected)
    assert described["codes"].sum() == 125


def test_well_known_codes():
    assert rfm_segments.segment_for(5, 5, 5) == "Champions"
    assert rfm_segments.segment_for(5, 1, 1) == "New"
    assert rfm_segments.segment_for(1, 5, 5) == "Can't lose"
    assert rfm_segments.segment_for(1, 1, 1) == "Lost"
    assert rfm_segments.segment_for(1, 1, 5) == "Hibernating"
    assert rfm_segments.segment_for(3, 3, 3) == "Need attention"
    assert set(rfm_segments.SEGMENT_NAMES) == {
        "Champions", "Loyal", "Potential loyalist", "New", "Promising", "Need attention",
        "About to sleep", "At risk", "Can't lose", "Hibernating", "Lost"}


def test_a_gap_or_an_overlap_in_the_rules_is_an_error():
    gap = tuple(s for s in rfm_segments.SEGMENTS if s.name != "Lost")
    with pytest.raises(SegmentMapError, match="no segment"):
        rfm_segments.segment_map(gap)
    overlap = rfm_segments.SEGMENTS + (Segment("Everyone", ANY, ANY, ANY, "all", "none"),)
    with pytest.raises(SegmentMapError, match="several segments"):
        rfm_segments.segment_map(overlap)


def test_grid_shows_a_name_in_every_cell():
    grid = rfm_segments.segment_grid()
    assert grid.shape == (5, 5)
    assert grid.loc[5, 5] == "Champions"
    assert grid.loc[1, 1] == "Lost / Hibernating"  # M splits the long-gone, rare corner
