"""The typo rule both backends share, as a pure function the PostgreSQL backend filters with."""

from __future__ import annotations

MIN_TYPO_LENGTH = 5
"""Words shorter than this must match exactly (Meilisearch's minWordSizeForTypos.oneTypo)."""


def tolerates_typo(query_word: str) -> bool:
    return len(query_word) >= MIN_TYPO_LENGTH


def one_typo_apart(query_word: str, word: str) -> bool:
    """True when `word` is `query_word` with one insertion, deletion, substitution or adjacent
    transposition, none of them touching the first letter (Meilisearch counts that as two)."""
    if query_word == word or not query_word or not word or query_word[0] != word[0]:
        return False
    a, b = query_word, word
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        return (
            len(diffs) == 2
            and diffs[1] == diffs[0] + 1
            and a[diffs[0]] == b[diffs[1]]
            and a[diffs[1]] == b[diffs[0]]
        )
    shorter, longer = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(shorter) and shorter[i] == longer[i]:
        i += 1
    return shorter[i:] == longer[i + 1 :]
