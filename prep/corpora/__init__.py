"""Recipes for public sign-language corpora: their own annotation files and frame folders into a store.

>>> prepared = RECIPES["csl-daily"].read(Path("CSL-Daily"))        # doctest: +SKIP
>>> with open_store("csl.zarr", mode="a") as store:              # doctest: +SKIP
...     attach(store, prepared)
"""

from __future__ import annotations

from .base import Prepared, Recipe, attach, join_descriptions
from .csl_daily import CslDaily
from .phoenix import Phoenix2014T

RECIPES: dict[str, Recipe] = {recipe.name: recipe for recipe in (CslDaily(), Phoenix2014T())}

__all__ = ["RECIPES", "Prepared", "Recipe", "attach", "join_descriptions"]
