"""Exact money and shares from configuration: ``Decimal`` from the text as written, never through a float.

    class LotSchema(BaseModel):
        shares: Money                     # "25.0000000000000000000001" is refused, never rounded to 25

A YAML float arrives as ``YamlFloat`` (a float that keeps its source text); the text is what becomes the
``Decimal``. Values the store cannot keep exactly are refused here, at the edge: the store's columns are
``NUMERIC(38, 18)`` (at most 18 decimals and 20 integer digits, ``engine.store.types``).
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import BeforeValidator

from engine.config.strict_yaml import YamlFloat

__all__ = ["MAX_DECIMALS", "MAX_INTEGER_DIGITS", "Money", "exact_decimal"]

#: Decimals the store keeps exactly (NUMERIC(38, 18)).
MAX_DECIMALS = 18
#: Integer digits the store keeps (38 − 18).
MAX_INTEGER_DIGITS = 20


def exact_decimal(value: object) -> Decimal:
    """The exact ``Decimal`` of a YAML/JSON number or numeric text; ``ValueError`` (pydantic's cue) otherwise.

    Accepted: int, ``YamlFloat`` (its text), a finite float (its shortest repr), ``Decimal`` and numeric text
    (underscores as in ``1_000`` allowed). Refused: booleans, NaN and infinities, more than 18 decimals or
    20 integer digits (the store would round them).
    """
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean (true/false)")
    if isinstance(value, YamlFloat):
        if not math.isfinite(value):
            raise ValueError("must be a finite number (not NaN or infinity)")
        text = value.text.replace("_", "")
        if ":" in text:  # YAML 1.1 sexagesimal (1:30.5): no exact text to read
            raise ValueError("write the number in plain decimal notation")
        value = text
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("must be a finite number (not NaN or infinity)")
        value = repr(value)
    if isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, Decimal):
        result = value
    elif isinstance(value, str):
        text = value.strip().replace("_", "")
        if len(text) > 80:
            raise ValueError("a number of more than 80 characters cannot be stored exactly")
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise ValueError("expected a number such as 1234.56") from None
    else:
        raise ValueError(f"expected a number, got {type(value).__name__}")
    if not result.is_finite():
        raise ValueError("must be a finite number (not NaN or infinity)")
    # Digits and exponent only, no arithmetic: a context could overflow on an exponent like 1E1000000.
    _, digits, exponent = result.as_tuple()
    assert isinstance(exponent, int)
    below = -MAX_DECIMALS - exponent  # digits below 1e-18
    if below > 0 and any(digits[-below:]):
        raise ValueError(
            f"has more than {MAX_DECIMALS} decimals; it cannot be stored exactly and is refused, not rounded"
        )
    if not any(digits) and exponent > 0:
        return Decimal(0)  # 0E+1000000 is zero; its exponent would not fit the store's column
    if result.adjusted() >= MAX_INTEGER_DIGITS:
        raise ValueError(f"has more than {MAX_INTEGER_DIGITS} integer digits; it cannot be stored exactly")
    return result


#: A money or share amount read exactly (see the module doc); constraints (``ge``, ``gt``) apply after.
Money = Annotated[Decimal, BeforeValidator(exact_decimal)]
