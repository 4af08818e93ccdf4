"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

from hypothesis import strategies as st

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
"""Any JSON value, small."""


def json_objects(keys: list[str], values: st.SearchStrategy = JSON_VALUES) -> st.SearchStrategy:
    """JSON objects whose keys are drawn from ``keys``: near misses of a real shape."""
    return st.dictionaries(st.sampled_from(keys), values)
