"""fanout: the CPU a web process spends per socket frame of a group push, list-based vs pub/sub channel layer.

`python -m benchmarks.fanout` prints one JSON document. For each layer in BENCH_FANOUT_LAYERS (default
"list,pubsub": channels_redis's list-based `core.RedisChannelLayer`, which the product used before, and the
product's pub/sub layer, tenants/channel_layer.py) it starts the real stack of benchmarks/stack.py with ONE
uvicorn process (production settings; no Celery worker, no simulator), creates a company and
BENCH_FANOUT_SOCKETS agents (default 100), each with its own session, and opens their sockets on `/ws/`
subscribed to the company's inbox as the inbox page does. Then:

- idle: the sockets stay open for BENCH_FANOUT_IDLE seconds (default 3) with no pushes;
- pushes: a thread of this process, with its own event loop and a layer built from the stack's settings, calls
  group_send on the inbox group BENCH_FANOUT_MESSAGES times (default 500) at BENCH_FANOUT_RATE per second
  (default 100), as the worker's publisher does (tenants/realtime.py); each push is a fragment of
  BENCH_FANOUT_BYTES (default 2000) carrying a marker; the window ends when every socket has every frame
  (or 60 s after the last push).

Measured from /proc/<uvicorn pid>/stat (user + system, all its threads): CPU per frame delivered in the push
window, minus the idle rate over the same length (the layer's own polling); the pushing thread's CPU per
group_send (time.thread_time); and Redis's CPU and commands over the window (INFO; the Redis server may be
shared, so those two are indicative). CPU time, not wall time, because the machine's cores are shared.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time

import redis

from benchmarks.live import _agents_with_sessions
from benchmarks.report import env_float, env_int, figure
from benchmarks.stack import REPO, running_stack

MARKER = re.compile(rb"FOM(\d+)Z")
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime: fields 14 and 15 of the line


def _redis_counters(url: str) -> tuple[float, int]:
    client = redis.Redis.from_url(url)
    try:
        info = client.info()
        return info["used_cpu_sys"] + info["used_cpu_user"], info["total_commands_processed"]
    finally:
        client.close()


def _make_layer():
    """The stack's channel layer, built here (Django settings are loaded once per process)."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    config = settings.BENCH_CHANNEL_LAYERS[os.environ["BENCH_CHANNEL_LAYER"]]
    return import_string(config["BACKEND"])(**config["CONFIG"])


def _push(group: str, messages: int, rate: float, size: int) -> dict:
    """group_send `messages` fragments at `rate`/s from a thread and event loop of its own; its CPU time."""
    result: dict = {}

    async def main() -> None:
        layer = _make_layer()
        await layer.group_send(group, {"type": "fragment", "html": "<i>warm-up</i>"})  # connections made
        started, cpu = time.perf_counter(), time.thread_time()
        for number in range(messages):
            due = started + number / rate
            if (delay := due - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            head = f'<div id="row-{number}" hx-swap-oob="true">FOM{number}Z '
            await layer.group_send(group, {"type": "fragment", "html": head + "x" * max(0, size - len(head) - 6)
                                           + "</div>"})
        result.update(cpu=time.thread_time() - cpu, seconds=time.perf_counter() - started)
        # Close the list-based layer's pools (its flush would delete frames not yet delivered); the pub/sub
        # layer closes its connections when this loop closes.
        if (close_pools := getattr(layer, "close_pools", None)) is not None:
            await close_pools()

    thread = threading.Thread(target=lambda: asyncio.run(main()), name="fanout-pusher")
    thread.start()
    thread.join()
    return result


async def _measure(stack, company_slug: str, group: str, session_keys: list[str], *, messages: int, rate: float,
                   size: int, idle: float) -> dict:
    import websockets

    pid = stack.processes["uvicorn"].pid
    counts = [0] * len(session_keys)

    async def open_socket(key: str):
        socket = await websockets.connect(f"{stack.ws_url}/ws/", max_size=None, open_timeout=30,
                                          additional_headers={"Cookie": f"sessionid={key}", "Origin": stack.url})
        await socket.send(json.dumps({"action": "subscribe", "company": company_slug, "topic": "inbox"}))
        answer = json.loads(await asyncio.wait_for(socket.recv(), 30))
        if answer != {"subscribed": "inbox"}:
            raise RuntimeError(f"subscription refused: {answer}")
        return socket

    sockets = []
    for start in range(0, len(session_keys), 20):
        sockets += await asyncio.gather(*(open_socket(key) for key in session_keys[start:start + 20]))

    async def receive(index: int, socket) -> None:
        try:
            async for frame in socket:
                data = frame.encode() if isinstance(frame, str) else frame
                counts[index] += len(MARKER.findall(data))
        except websockets.ConnectionClosed:
            return

    receivers = [asyncio.create_task(receive(index, socket)) for index, socket in enumerate(sockets)]
    await asyncio.sleep(1)
    idle_cpu = cpu_seconds(pid)
    await asyncio.sleep(idle)
    idle_rate = (cpu_seconds(pid) - idle_cpu) / idle

    expected = messages * len(sockets)
    redis_cpu, redis_commands = _redis_counters(stack.redis_url)
    started, server_cpu = time.perf_counter(), cpu_seconds(pid)
    pushed = await asyncio.to_thread(_push, group, messages, rate, size)
    deadline = time.perf_counter() + 60
    while sum(counts) < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.02)
    window = time.perf_counter() - started
    server_cpu = cpu_seconds(pid) - server_cpu
    redis_cpu_after, redis_commands_after = _redis_counters(stack.redis_url)
    for socket in sockets:
        await socket.close()
    await asyncio.gather(*receivers, return_exceptions=True)
    frames = sum(counts)
    net = server_cpu - idle_rate * window
    return {
        "sockets": len(sockets), "messages": messages, "frames_expected": expected, "frames_delivered": frames,
        "window_s": round(window, 2), "push_s": round(pushed["seconds"], 2),
        "server_cpu_s": round(server_cpu, 2), "server_idle_cpu_per_s": round(idle_rate, 4),
        "server_cpu_per_frame_us": round(server_cpu / frames * 1e6, 1) if frames else None,
        "server_cpu_per_frame_net_of_idle_us": round(net / frames * 1e6, 1) if frames else None,
        "pusher_cpu_per_group_send_us": round(pushed["cpu"] / messages * 1e6, 1),
        "redis_cpu_s_shared": round(redis_cpu_after - redis_cpu, 2),
        "redis_commands_shared": redis_commands_after - redis_commands,
    }


def measure_layer(name: str) -> dict:
    """One layer's measurement, on a stack of its own (run in a process of its own: Django and its database
    pool are set up once per process, and each stack drops its database at the end)."""
    from benchmarks import loadgen

    os.environ["BENCH_CHANNEL_LAYER"] = name
    socket_count = env_int("BENCH_FANOUT_SOCKETS", 100)
    load_before = os.getloadavg()[0]
    with running_stack(web_workers=1, worker_queues=None, simulator=False,
                       extra_env={"BENCH_CHANNEL_LAYER": name}) as stack:
        stack.django()
        from django.conf import settings

        from tenants import realtime, services

        company = services.company_create(name=f"Fanout {name}", slug=f"fanout-{name}", max_members=socket_count + 5)
        keys = _agents_with_sessions(company.pk, socket_count)
        result = loadgen.run(_measure(
            stack, company.slug, realtime.language_group(realtime.group_for(company, "inbox"), settings.LANGUAGE_CODE),
            keys,
            messages=env_int("BENCH_FANOUT_MESSAGES", 500), rate=env_float("BENCH_FANOUT_RATE", 100),
            size=env_int("BENCH_FANOUT_BYTES", 2000), idle=env_float("BENCH_FANOUT_IDLE", 3)))
        stack.check_alive()
    result["load_average_before_after"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return result


def run() -> dict:
    layers = [name for name in (os.environ.get("BENCH_FANOUT_LAYERS") or "list,pubsub").split(",") if name]
    results = {}
    for name in layers:
        # stdout of the child goes to our stderr: our stdout carries only the JSON document.
        child = subprocess.run([sys.executable, "-m", "benchmarks.fanout", "--layer", name], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=sys.stderr, text=True, check=False)
        if child.returncode:
            raise RuntimeError(f"the {name} layer's run failed ({child.returncode})")
        results[name] = json.loads(child.stdout)
    first = results[layers[0]]
    figures = {f"{name}_cpu_per_frame_us": figure(result["server_cpu_per_frame_net_of_idle_us"], "us CPU/frame",
                                                  reference=f"{result['frames_delivered']} of "
                                                            f"{result['frames_expected']} frames")
               for name, result in results.items()}
    return {
        "method": (f"one uvicorn process (production settings), {first['sockets']} agent sockets subscribed to one "
                   f"company's inbox; {first['messages']} group_sends at {env_float('BENCH_FANOUT_RATE', 100):g}/s "
                   f"from another thread's event loop; uvicorn's CPU time from /proc per frame delivered, net of its "
                   f"idle rate"),
        "figures": figures,
        "details": results,
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["--layer"]:
        print(json.dumps(measure_layer(sys.argv[2])))
    else:
        print(json.dumps(run(), indent=2))
