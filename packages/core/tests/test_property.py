"""Property: for any JSON input, invoke returns a valid output or raises a PikkuError."""

from __future__ import annotations

from typing import Any, Literal

import anyio
import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pikku_core import Pikku, PikkuError, pikku_sessionless_func


class Address(msgspec.Struct):
    city: str
    zip: int | None = None


class Person(msgspec.Struct):
    name: str
    age: int
    tags: list[str] = []
    kind: Literal["a", "b"] = "a"
    address: Address | None = None


class Summary(msgspec.Struct):
    name: str
    years: int


@pikku_sessionless_func
async def summarise(services: Any, data: Person, wire: Any) -> Summary:
    if data.age < 0:
        raise ValueError("negative ages are a bug upstream")
    return Summary(name=data.name, years=data.age)


@pikku_sessionless_func
async def double(services: Any, data: int, wire: Any) -> int:
    return data * 2


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["name", "age", "tags", "kind", "address", "city", "x"])
            | st.text(max_size=5),
            children,
            max_size=5,
        )
    ),
    max_leaves=12,
)

APP = Pikku()
APP.add_functions(summarise, double)


async def _check(name: str, value: Any) -> None:
    with anyio.fail_after(5):
        try:
            result = await APP.invoke(name, value)
        except PikkuError:
            return
    if name == "summarise":
        assert isinstance(result, Summary)
        msgspec.convert(msgspec.to_builtins(result), Summary)
    else:
        assert isinstance(result, int)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(["summarise", "double"]), value=json_values)
def test_any_json_input_gives_output_or_pikku_error(name: str, value: Any) -> None:
    anyio.run(_check, name, value)
