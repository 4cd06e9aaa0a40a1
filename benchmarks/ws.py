"""pikku-ws vs a raw `websockets` handler, in one run (loopback only, a few seconds each).

1. Request/reply: 50 connections, each doing sequential round trips through one channel
   action (pikku) or a raw handler that parses the JSON and replies (raw).
2. Fan-out: publish to 1,000 subscribers, time until every one has the event.
3. Memory: resident memory per idle connection (1,000 each), and the growth over a
   second and third round of 1,000 connect/subscribe/disconnect cycles.

Each server runs in its own subprocess (so its RSS is its own); the load generator is
this process. Usage: ``uv run --package pikku-ws python benchmarks/ws.py [--seconds 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import subprocess
import sys
import time
from typing import Any

# benchmarks/http.py would shadow the standard library's `http` for scripts run from here.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import msgspec  # noqa: E402
from pikku_core import Pikku, Wire, pikku_sessionless_func  # noqa: E402

CONNS = 50
FANOUT = 1000
IDLE = 1000

_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder()


# ---------------------------------------------------------------- servers (subprocess)


class AddInput(msgspec.Struct):
    a: int
    b: int


class AddOutput(msgspec.Struct):
    sum: int


class Topic(msgspec.Struct):
    topic: str


class Publish(msgspec.Struct):
    topic: str
    n: int


def make_app() -> Pikku:
    @pikku_sessionless_func
    async def add(services: Any, data: AddInput, wire: Wire[Any]) -> AddOutput:
        return AddOutput(sum=data.a + data.b)

    @pikku_sessionless_func
    async def subscribe(services: Any, data: Topic, wire: Wire[Any]) -> None:
        await services.event_hub.subscribe(data.topic, wire.channel)

    @pikku_sessionless_func
    async def publish(services: Any, data: Publish, wire: Wire[Any]) -> None:
        await services.event_hub.publish(data.topic, {"n": data.n})

    app = Pikku()
    app.wire_channel(
        name="bench",
        route="/bench",
        on_message_wiring={"add": add, "subscribe": subscribe, "publish": publish},
    )
    return app


async def serve_raw() -> None:
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    subscribers: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        try:
            async for frame in ws:
                msg = _dec.decode(frame)
                action = msg["action"]
                if action == "add":
                    reply = {"action": "add", "id": msg["id"], "sum": msg["a"] + msg["b"]}
                elif action == "subscribe":
                    subscribers.add(ws)
                    reply = {"action": "subscribe", "id": msg["id"]}
                else:
                    event = _enc.encode({"topic": msg["topic"], "data": {"n": msg["n"]}}).decode()
                    broadcast(subscribers, event)
                    reply = {"action": "publish", "id": msg["id"]}
                await ws.send(_enc.encode(reply).decode())
        finally:
            subscribers.discard(ws)

    async with serve(handler, "127.0.0.1", 0) as server:
        await _announce(server)


async def serve_pikku() -> None:
    import pikku_ws

    async with pikku_ws.serve(make_app(), "127.0.0.1", 0) as server:
        await _announce(server)


async def _announce(server: Any) -> None:
    print(server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    # Commands on stdin: "gc" collects garbage and answers; EOF stops the server.
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if line.strip() == b"gc":
            gc.collect()
            print("ok", flush=True)


class Server:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.url = f"ws://127.0.0.1:{self.port}/bench"

    def rss(self) -> int:
        """Resident memory in bytes, after a gc in the server."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("gc\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "ok"
        with open(f"/proc/{self.proc.pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def cpu(self) -> float:
        """CPU seconds (user + system) the server process has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ---------------------------------------------------------------- load (this process)


async def _connect(url: str) -> Any:
    from websockets.asyncio.client import connect

    return await connect(url, compression=None, max_size=2**20, ping_interval=None)


async def _connect_many(url: str, n: int) -> list[Any]:
    conns: list[Any] = []
    while len(conns) < n:
        batch = min(100, n - len(conns))
        conns.extend(await asyncio.gather(*(_connect(url) for _ in range(batch))))
    return conns


async def _close_all(conns: list[Any]) -> None:
    await asyncio.gather(*(ws.close() for ws in conns))


async def request_reply(server: Server, seconds: float) -> tuple[float, float, float]:
    """Messages/s, p99 latency (ms) and server CPU µs per message, CONNS sequential clients."""
    conns = await _connect_many(server.url, CONNS)
    latencies: list[float] = []
    stop_at = 0.0

    async def client(ws: Any, k: int) -> None:
        i = 0
        lat = latencies
        while time.perf_counter() < stop_at:
            i += 1
            t0 = time.perf_counter()
            await ws.send(_enc.encode({"action": "add", "id": i, "a": k, "b": i}).decode())
            reply = _dec.decode(await ws.recv())
            lat.append(time.perf_counter() - t0)
            assert reply["sum"] == k + i, reply

    # Warm-up, then the measured run.
    elapsed = cpu = 0.0
    for duration in (0.3, seconds):
        latencies.clear()
        stop_at = time.perf_counter() + duration
        cpu0 = server.cpu()
        start = time.perf_counter()
        await asyncio.gather(*(client(ws, k) for k, ws in enumerate(conns)))
        elapsed = time.perf_counter() - start
        cpu = server.cpu() - cpu0
    await _close_all(conns)
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    return len(latencies) / elapsed, p99, cpu / len(latencies) * 1e6


async def fan_out(url: str, rounds: int = 5) -> float:
    """Median ms from sending a publish to the last of FANOUT subscribers receiving it."""
    subs = await _connect_many(url, FANOUT)

    async def subscribe(i: int, ws: Any) -> None:
        await ws.send(_enc.encode({"action": "subscribe", "id": i, "topic": "t"}).decode())
        await ws.recv()

    await asyncio.gather(*(subscribe(i, ws) for i, ws in enumerate(subs)))
    pub = await _connect(url)
    times: list[float] = []
    for n in range(rounds):
        t0 = time.perf_counter()
        await pub.send(_enc.encode({"action": "publish", "id": n, "topic": "t", "n": n}).decode())
        events = await asyncio.gather(*(ws.recv() for ws in subs))
        times.append((time.perf_counter() - t0) * 1000)
        assert all(_dec.decode(e)["data"]["n"] == n for e in events)
        await pub.recv()
    await _close_all([*subs, pub])
    return statistics.median(times)


async def idle_memory(server: Server) -> float:
    """Resident bytes per idle connection (IDLE connections, no messages)."""
    warm = await _connect(server.url)  # lazy imports and first-connection set-up
    await warm.close()
    await asyncio.sleep(0.2)
    before = server.rss()
    conns = await _connect_many(server.url, IDLE)
    await asyncio.sleep(0.5)
    after = server.rss()
    await _close_all(conns)
    return (after - before) / IDLE


async def churn(server: Server) -> list[int]:
    """RSS after each of three rounds of IDLE connect/subscribe/disconnect cycles."""
    out: list[int] = []
    for _ in range(3):
        for batch in range(IDLE // 100):
            conns = await _connect_many(server.url, 100)

            async def subscribe(i: int, ws: Any, batch: int = batch) -> None:
                topic = f"topic-{batch}-{i}"
                await ws.send(
                    _enc.encode({"action": "subscribe", "id": i, "topic": topic}).decode()
                )
                await ws.recv()

            await asyncio.gather(*(subscribe(i, ws) for i, ws in enumerate(conns)))
            await _close_all(conns)
        await asyncio.sleep(0.3)
        out.append(server.rss())
    return out


async def main(seconds: float, rounds: int) -> None:
    servers = {"raw": Server("raw"), "pikku": Server("pikku")}
    try:
        # Memory first, on fresh servers (freed memory is not given back to the OS).
        mem = {kind: await idle_memory(server) for kind, server in servers.items()}
        # Request/reply in alternating short rounds: the CPU is shared and noisy, so each
        # side gets the same mix of quiet and busy moments; medians are reported.
        runs: dict[str, list[tuple[float, float, float]]] = {"raw": [], "pikku": []}
        for r in range(rounds):
            order = ("raw", "pikku") if r % 2 == 0 else ("pikku", "raw")
            for kind in order:
                runs[kind].append(await request_reply(servers[kind], seconds))
        fan = {kind: await fan_out(server.url) for kind, server in servers.items()}
        churn_rss = await churn(servers["pikku"])
    finally:
        for server in servers.values():
            server.stop()

    def med(kind: str, i: int) -> float:
        return statistics.median(run[i] for run in runs[kind])

    ratios = [p[0] / r[0] for p, r in zip(runs["pikku"], runs["raw"], strict=True)]
    print(f"request/reply: {CONNS} connections x sequential round trips, {rounds} alternating")
    print(f"rounds of {seconds:g} s each (medians):")
    for kind, label in (("raw", "raw websockets"), ("pikku", "pikku-ws      ")):
        print(
            f"  {label} : {med(kind, 0):8.0f} msg/s   p99 {med(kind, 1):6.2f} ms"
            f"   server CPU {med(kind, 2):5.1f} µs/msg"
        )
    print(f"  ratio pikku/raw msg/s: {med('pikku', 0) / med('raw', 0):.2f}", end="")
    print(f"  (per round: {', '.join(f'{x:.2f}' for x in ratios)})")
    print(f"  ratio raw/pikku server CPU per msg: {med('raw', 2) / med('pikku', 2):.2f}")
    print(f"fan-out to {FANOUT} subscribers (median of 5, publish -> last received):")
    print(f"  raw broadcast  : {fan['raw']:.1f} ms")
    print(f"  pikku EventHub : {fan['pikku']:.1f} ms")
    print(f"memory per idle connection ({IDLE} each, server RSS):")
    print(f"  raw websockets : {mem['raw'] / 1024:.1f} KiB")
    print(f"  pikku-ws       : {mem['pikku'] / 1024:.1f} KiB")
    print(f"  ratio pikku/raw: {mem['pikku'] / mem['raw']:.2f}")
    mib = [r / 2**20 for r in churn_rss]
    print(f"pikku RSS after 3 rounds of {IDLE} connect/subscribe/disconnect: ", end="")
    print(", ".join(f"{m:.1f}" for m in mib), "MiB")
    print(f"  growth over rounds 2-3: {mib[2] - mib[0]:.2f} MiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", choices=["raw", "pikku"])
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    if args.serve == "raw":
        asyncio.run(serve_raw())
    elif args.serve == "pikku":
        asyncio.run(serve_pikku())
    else:
        os.environ.setdefault("PYTHONHASHSEED", "0")
        asyncio.run(main(args.seconds, args.rounds))
