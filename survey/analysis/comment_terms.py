"""The words of a comment: Chinese segmented with jieba, English tokenised, stop words
out, and the two-word phrases of adjacent words; what `comment_themes` counts.

How a text becomes terms (`text_terms`):

1. NFKC-normalised (full-width letters, digits and punctuation become their ASCII
   forms) and lower-cased; a typographic apostrophe is read as "'".
2. Runs of Chinese characters are segmented by jieba (its shipped dictionary with the
   corrections in `stopwords/zh_segmentation.txt`, and its HMM for words the
   dictionary lacks); runs of Latin letters and digits are words
   (an apostrophe inside a word is kept: "don't"). Everything else (punctuation,
   symbols, emoji) separates words. White space and a stray apostrophe do not:
   "交货 问题" reads as "交货问题", "suppliers' prices" as "suppliers prices".
3. A word is left out when it is in the stop list of its script (`stopwords/zh.txt`,
   `stopwords/en.txt`, kept in the repository), when it is a number or a counted
   quantity ("2026", "三个", "一批"), or when it is a single Latin letter.
4. The terms are the words left, except a single Chinese character (多, 高: too
   vague alone), and each pair of adjacent words left ("adjacent": nothing between
   them but white space, neither of them left out), written together when both are
   Chinese ("延迟" + "交货" → "延迟交货", "供应商" + "高" → "供应商高") and with a
   space otherwise ("delivery problems", "交货 delay").

Each term counts once per text, however often the text repeats it. jieba is loaded
once per process, on first use (its dictionary ships with the package: no network),
with its logger quiet.
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
import threading
import unicodedata
import warnings
from importlib import resources
from typing import Any

#: Chinese characters (CJK unified ideographs, extension A, compatibility ideographs).
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"(?P<han>[{_HAN}]+)|(?P<latin>[a-z0-9]+(?:'[a-z0-9]+)*)|(?P<space>[\s']+)")
_IS_HAN = re.compile(rf"[{_HAN}]")
#: Numbers and counted quantities: "2026", "三个", "一批", "两周"; not themes.
_NUMERALS = "零〇一二两三四五六七八九十百千万几"
_QUANTITY = re.compile(rf"^(?:[0-9]+|[{_NUMERALS}]+[个次天月年周批件位家号]?)$")
#: How many texts' terms are remembered (a text's terms never change).
TERMS_CACHE_SIZE = 50_000

_lock = threading.Lock()


@functools.cache
def stop_words() -> frozenset[str]:
    """The Chinese and English stop lists kept in `survey/analysis/stopwords/`."""
    return frozenset([*_lines("zh.txt"), *_lines("en.txt")])


def _lines(name: str) -> list[str]:
    """The non-empty, non-comment lines of a word list in `stopwords/`."""
    text = resources.files("survey.analysis").joinpath("stopwords", name).read_text("utf-8")
    return [w for w in (line.strip() for line in text.splitlines()) if w and w[0] != "#"]


@functools.cache
def _segmenter() -> Any:
    """jieba's tokenizer, initialised once per process (its dictionary in memory).

    jieba logs "Building prefix dict..." at DEBUG to stderr: its logger is set to
    WARNING first. Importing it may warn about setuptools' pkg_resources, which it
    uses to find its dictionary: that warning is about jieba, not about us.
    """
    with _lock, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import jieba

        logging.getLogger("jieba").setLevel(logging.WARNING)
        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
        for line in _lines("zh_segmentation.txt"):
            if line.startswith("-"):
                tokenizer.del_word(line[1:])
            elif line.startswith("+"):
                tokenizer.add_word(line[1:])
    return tokenizer


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace("\u2019", "'").lower()


def words(text: str) -> list[str | None]:
    """The words of `text` in order, None where something separates them (punctuation,
    a stop word, a number): two words are adjacent when no None stands between them."""
    stop = stop_words()
    result: list[str | None] = []
    position = 0
    normalised = _normalise(text)
    for match in _RUNS.finditer(normalised):
        if match.start() > position:  # punctuation or symbols between runs
            result.append(None)
        position = match.end()
        if match.lastgroup == "space":
            continue
        if match.lastgroup == "han":
            pieces = _segmenter().lcut(match.group(), HMM=True)
        else:
            pieces = [match.group()]
        for piece in pieces:
            keep = (
                piece not in stop
                and not _QUANTITY.match(piece)
                and (len(piece) > 1 or bool(_IS_HAN.match(piece)))
            )
            result.append(piece if keep else None)
    return result


def _joined(left: str, right: str) -> str:
    both_han = _IS_HAN.match(left[-1]) and _IS_HAN.match(right[0])
    return f"{left}{right}" if both_han else f"{left} {right}"


@functools.lru_cache(maxsize=TERMS_CACHE_SIZE)
def text_terms(text: str) -> tuple[str, ...]:
    """The distinct terms of `text` (words, then phrases of two adjacent words), each
    once, in the order they first occur."""
    sequence = words(text)
    terms: dict[str, None] = {}
    for word in sequence:
        # One Chinese character alone says too little (多, 高, 货): only in a phrase.
        if word is not None and not (len(word) == 1 and _IS_HAN.match(word)):
            terms[word] = None
    for left, right in itertools.pairwise(sequence):
        if left is not None and right is not None:
            terms[_joined(left, right)] = None
    return tuple(terms)
