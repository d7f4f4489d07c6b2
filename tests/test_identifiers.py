"""Identifier normalisation and quoting, pinned by example and by property."""

import re

import pytest
from hypothesis import given, strategies as st

from deployer.identifiers import IdentifierError, normalize, quote, qualified

PLAIN = st.from_regex(r"[A-Za-z_][A-Za-z0-9_$]{0,40}", fullmatch=True)


@pytest.mark.parametrize("raw,stored", [("predict", "PREDICT"), ("Data_Model", "DATA_MODEL"),
                                        ('"Predict"', "Predict"), ("a$b", "A$B"), ('"select"', "select")])
def test_examples(raw, stored):
    assert normalize(raw) == stored


@pytest.mark.parametrize("raw", ["", '""', "a b", "a;b", 'a"b', "1abc", "é", "a-b", "x" * 256, '"a b"'])
def test_rejected(raw):
    with pytest.raises(IdentifierError):
        normalize(raw)


def test_reserved_words_are_quoted():
    assert quote("SELECT") == '"SELECT"'
    assert quote("PREDICT") == "PREDICT"
    assert quote("Predict") == '"Predict"'
    assert qualified("ML", "DATA_MODEL", "predict") == 'ML.DATA_MODEL."predict"'


@given(PLAIN)
def test_unquoted_is_upper_cased_and_idempotent(raw):
    stored = normalize(raw)
    assert stored == raw.upper()
    assert normalize(quote(stored)) == stored


@given(PLAIN)
def test_quoted_keeps_case_and_round_trips(raw):
    stored = normalize(f'"{raw}"')
    assert stored == raw
    # What we emit reads back as the same stored name.
    assert normalize(quote(stored)) == stored


@given(st.text(min_size=1, max_size=300))
def test_anything_accepted_is_safe_to_emit(raw):
    try:
        stored = normalize(raw)
    except IdentifierError:
        return
    text = quote(stored)
    assert re.fullmatch(r'[A-Z_][A-Z0-9_$]*|"[A-Za-z0-9_$]+"', text)
    assert len(stored) <= 255
