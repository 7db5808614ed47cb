"""Realistic names for the synthetic district, from the CC0 popular-names-by-country lists in bench/names/.

Each family gets a country of origin; every member's forename and surname is drawn from that country's list
with a Zipf-like weight on its rank, so common names repeat a lot (a 1M-student district has tens of
thousands of "Smith"s — later benchmarks need username collisions). Families from countries whose names are
written in another script are sometimes recorded in that script; accented romanised forms (José, Phạm,
Wáng) come straight from the lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from rng import Draws, block_choice, cumulative_keys

NAMES_DIR = Path(__file__).resolve().parent / "names"

# A district in the United States with a large Hispanic community and many smaller diasporas. Countries not
# listed share OTHER_COUNTRIES_SHARE equally.
COUNTRY_WEIGHTS = {
    "US": 0.50, "MX": 0.09, "GB": 0.04, "CA": 0.03, "PH": 0.03, "CN": 0.03, "IN": 0.02, "KR": 0.02,
    "IE": 0.015, "DE": 0.015, "IT": 0.015, "JP": 0.01, "RU": 0.01, "PL": 0.01,
}  # fmt: skip
OTHER_COUNTRIES_SHARE = 0.165
# Within a country, the k-th most common name has weight 1 / k**ZIPF_EXPONENT.
ZIPF_EXPONENT = 0.7
# Share of families from a non-Latin-script country whose SIS record is in that script.
NATIVE_SCRIPT_SHARE = 0.4

# Letters that Unicode decomposition does not reduce to ASCII, for e-mail local parts.
_ASCII_FOLD = {
    "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ß": "ss", "æ": "ae", "Æ": "AE", "ł": "l", "Ł": "L",
    "œ": "oe", "Œ": "OE", "þ": "th", "Þ": "Th", "ð": "d", "Ð": "D", "\u0131": "i", "ħ": "h", "Ħ": "H",
}  # fmt: skip


def ascii_slug(names: pl.Series) -> pl.Series:
    """Lower-case ASCII letters and digits only: "Phạm" → "pham", "dela Cruz" → "delacruz"."""
    folded = names.str.replace_many(list(_ASCII_FOLD), list(_ASCII_FOLD.values()))
    return folded.str.normalize("NFKD").str.to_lowercase().str.replace_all(r"[^a-z0-9]", "")


@dataclass(frozen=True)
class NameBank:
    """The name lists, arranged in contiguous blocks so one vectorised draw serves every row."""

    countries: pl.DataFrame  # code, weight, native_share; row index = country index
    forenames: pl.DataFrame  # country, female, roman, local, ascii; blocks of (country, female)
    forename_keys: pl.Series
    surnames: pl.DataFrame  # country, roman, local, ascii; blocks of country
    surname_keys: pl.Series

    @classmethod
    def load(cls, folder: Path = NAMES_DIR) -> NameBank:
        """Read both lists, keep countries that have female and male forenames and surnames."""
        fore = pl.read_csv(folder / "common-forenames-by-country.csv", infer_schema=False)
        sur = pl.read_csv(folder / "common-surnames-by-country.csv", infer_schema=False)
        fore = (
            fore.select(
                country=pl.col("Country"),
                female=pl.col("Gender") == "F",
                roman=pl.col("Romanized Name"),
                local=pl.col("Localized Name"),
            )
            .drop_nulls(["roman"])
            .unique(maintain_order=True)
        )
        # A few CN/KR surnames appear only as a native form with no romanisation: no e-mail can be built.
        sur = (
            sur.select(
                country=pl.col("Country"), roman=pl.col("Romanized Name"), local=pl.col("Localized Name")
            )
            .drop_nulls(["roman"])
            .unique(maintain_order=True)
        )
        both_genders = fore.group_by("country").agg(pl.col("female").n_unique() == 2).filter("female")
        codes = sorted(set(both_genders["country"]) & set(sur["country"]))
        missing = set(COUNTRY_WEIGHTS) - set(codes)
        if missing:
            raise ValueError(f"name lists lack countries {sorted(missing)}")
        others = [c for c in codes if c not in COUNTRY_WEIGHTS]
        weight = {c: COUNTRY_WEIGHTS.get(c, OTHER_COUNTRIES_SHARE / len(others)) for c in codes}

        def non_latin_share(code: str) -> float:
            rows = sur.filter(pl.col("country") == code)
            differs = rows.select(
                (pl.col("local").is_not_null() & (pl.col("local") != pl.col("roman"))).mean()
            )
            return float(differs.item())

        countries = pl.DataFrame(
            {
                "code": codes,
                "weight": [weight[c] for c in codes],
                "native_share": [NATIVE_SCRIPT_SHARE * non_latin_share(c) for c in codes],
            }
        )
        index = {c: i for i, c in enumerate(codes)}
        fore = _arrange(fore.filter(pl.col("country").is_in(codes)), index, ["country_index", "female_block"])
        sur = _arrange(sur.filter(pl.col("country").is_in(codes)), index, ["country_index"])
        return cls(
            countries=countries,
            forenames=fore,
            forename_keys=_zipf_keys(fore, ["country_index", "female_block"]),
            surnames=sur,
            surname_keys=_zipf_keys(sur, ["country_index"]),
        )

    def draw_country(self, draws: Draws, n: int) -> pl.Series:
        """`n` country indexes, by the district's mix."""
        return draws.categorical(n, self.countries["weight"].to_list()).alias("country")

    def draw_native(self, draws: Draws, country: pl.Series) -> pl.Series:
        """Whether each family is recorded in its native script."""
        share = self.countries["native_share"].gather(country)
        return draws.bernoulli(len(country), share).alias("native")

    def draw_forename(self, draws: Draws, country: pl.Series, female: pl.Series) -> pl.Series:
        """Row indexes into `forenames`, one per (country, female) pair."""
        block = country * 2 + (~female).cast(pl.Int64)
        return block_choice(draws.uniform(len(country)), block, self.forename_keys)

    def draw_surname(self, draws: Draws, country: pl.Series) -> pl.Series:
        """Row indexes into `surnames`, one per country."""
        return block_choice(draws.uniform(len(country)), country, self.surname_keys)


def _arrange(names: pl.DataFrame, index: dict[str, int], block_columns: list[str]) -> pl.DataFrame:
    """Sort names into contiguous blocks (keeping list order, i.e. rank, inside each) and add e-mail slugs."""
    names = names.with_columns(
        country_index=pl.col("country").replace_strict(index, return_dtype=pl.Int64),
        ascii=ascii_slug(names["roman"]),
    )
    if "female" in names.columns:
        names = names.with_columns(female_block=(~pl.col("female")).cast(pl.Int64))
    # The lists hold a few "romanised" names still in Cyrillic (KZ): without an ASCII form no e-mail address
    # can be built from them, and the native forms remain available from other rows.
    names = names.filter(pl.col("ascii") != "")
    return names.with_row_index("rank_in_list").sort([*block_columns, "rank_in_list"], maintain_order=True)


def _zipf_keys(names: pl.DataFrame, block_columns: list[str]) -> pl.Series:
    """Cumulative search keys: within each block the k-th name weighs 1 / k**ZIPF_EXPONENT."""
    if block_columns == ["country_index", "female_block"]:
        block_of = names["country_index"] * 2 + names["female_block"]
        n_blocks = int(names["country_index"].max() + 1) * 2
    else:
        block_of = names["country_index"]
        n_blocks = int(names["country_index"].max() + 1)
    sizes = block_of.value_counts().sort(block_of.name)
    size_of = dict(zip(sizes[block_of.name].to_list(), sizes["count"].to_list(), strict=True))
    blocks = [[1.0 / (k + 1) ** ZIPF_EXPONENT for k in range(size_of[b])] for b in range(n_blocks)]
    return cumulative_keys(blocks)
