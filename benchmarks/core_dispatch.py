"""Core dispatch overhead: `app.invoke` vs calling the function after `msgspec.convert`.

Run: uv run python benchmarks/core_dispatch.py
Prints the microseconds pikku adds per call, without and with one middleware + one
permission. Targets: <= 2 us and <= 5 us.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import anyio
import msgspec
from pikku_core import Pikku, Wire, pikku_sessionless_func


class Order(msgspec.Struct):
    item: str
    quantity: int
    price: float


async def _total(services: Any, data: Order, wire: Any) -> float:
    return data.quantity * data.price


plain = pikku_sessionless_func(name="plain")(_total)


async def allow(services: Any, data: Any, wire: Any) -> bool:
    return True


async def passthrough(services: Any, wire: Any, next: Any) -> Any:
    return await next()


guarded = pikku_sessionless_func(
    name="guarded", middleware=[passthrough], permissions={"all": allow}
)(_total)

PAYLOAD = {"item": "book", "quantity": 3, "price": 9.5}
N = 200_000
ROUNDS = 5


async def _baseline(n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await _total(None, msgspec.convert(PAYLOAD, Order), None)
    return time.perf_counter() - start


async def _invoke(app: Pikku, name: str, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await app.invoke(name, PAYLOAD)
    return time.perf_counter() - start


async def _pipeline(app: Pikku, name: str, n: int) -> float:
    pipeline = app.rpc_pipeline(app.resolve(name))
    start = time.perf_counter()
    for _ in range(n):
        await pipeline.run(Wire(app), PAYLOAD)
    return time.perf_counter() - start


async def main() -> None:
    app = Pikku()
    app.add_functions(plain, guarded)
    async with app:
        await _invoke(app, "plain", 10_000)  # warm up
        rows: dict[str, list[float]] = {
            "raw": [],
            "invoke": [],
            "invoke+mw+perm": [],
            "pipeline": [],
        }
        for _ in range(ROUNDS):
            rows["raw"].append(await _baseline(N))
            rows["invoke"].append(await _invoke(app, "plain", N))
            rows["invoke+mw+perm"].append(await _invoke(app, "guarded", N))
            rows["pipeline"].append(await _pipeline(app, "plain", N))
    per_call = {k: statistics.median(v) / N * 1e6 for k, v in rows.items()}
    raw = per_call["raw"]
    print(f"calls per round: {N}, rounds: {ROUNDS} (median)")
    print(f"{'raw convert+call':<28}{raw:8.3f} us/call")
    for name in ("invoke", "invoke+mw+perm", "pipeline"):
        us = per_call[name]
        print(f"{name:<28}{us:8.3f} us/call   added {us - raw:6.3f} us   ratio {raw / us:5.2f}")


if __name__ == "__main__":
    anyio.run(main)
