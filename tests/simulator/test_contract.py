"""Replay all 75 exchanges recorded against a real Evolution 2.3.6 server, in order, against the simulator.

The recording was made with WhatsApp unreachable, so the simulator runs in that mode here
(`whatsapp_reachable=false`). Status codes, content type, keys, types and every value that is not
an id, a token, a time or a host-specific string must match; the webhooks the real server posted
to its sink (section J) must arrive too, at the same paths, with the same envelope keys.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.simulator.fixtures import SimulatorHandle, WebhookReceiver, wait_until

RECORDING = json.loads((Path(__file__).parents[1] / "gateways/recordings/evolution-2.3.6.json").read_text())
RECORDED_SINK = "http://127.0.0.1:9999"
# Values that differ by nature between two servers: ids, secrets, times, this server's own name and URL.
VOLATILE = {
    "id",
    "instanceId",
    "hash",
    "token",
    "createdAt",
    "updatedAt",
    "disconnectionAt",
    "disconnectionObject",
    "date_time",
    "clientName",
    "manager",
    "whatsappWebVersion",
    "server_url",
}
# Exchange 13's recorded message was abridged by the recorder ("… omitted here …"): compare shape only.
SHAPE_ONLY = {13}


def shape_mismatches(expected: Any, actual: Any, path: str = "$", compare_values: bool = True) -> list[str]:
    """Where `actual` differs from `expected` in keys, types, or (outside VOLATILE keys) values."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {type(actual).__name__}"]
        problems = []
        if expected.keys() != actual.keys():
            missing, extra = sorted(expected.keys() - actual.keys()), sorted(actual.keys() - expected.keys())
            problems.append(f"{path}: keys differ: missing {missing}, extra {extra}")
        for key in expected.keys() & actual.keys():
            problems += shape_mismatches(
                expected[key], actual[key], f"{path}.{key}", compare_values and key not in VOLATILE
            )
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected a list of {len(expected)}, got {actual!r:.200}"]
        return [
            p
            for index, item in enumerate(expected)
            for p in shape_mismatches(item, actual[index], f"{path}[{index}]", compare_values)
        ]
    if type(expected) is not type(actual):
        return [f"{path}: expected {type(expected).__name__}, got {type(actual).__name__} ({actual!r:.100})"]
    if compare_values and expected != actual:
        return [f"{path}: expected {expected!r:.300}, got {actual!r:.300}"]
    return []


class Replayer:
    """Sends the recorded requests with this run's key, tokens and sink URL substituted."""

    def __init__(self, simulator: SimulatorHandle, receiver: WebhookReceiver) -> None:
        self.simulator = simulator
        self.substitutions = {RECORDING["global_api_key"]: simulator.api_key, RECORDED_SINK: receiver.url}

    def rewrite(self, text: str) -> str:
        for recorded, actual in self.substitutions.items():
            text = text.replace(recorded, actual)
        return text

    def send(self, exchange: dict[str, Any]) -> Any:
        request = exchange["request"]
        headers = {name: self.rewrite(value) for name, value in request["headers"].items()}
        body = self.rewrite(request["body"]) if request["body"] is not None else None
        return self.simulator.client.request(
            request["method"], request["path"], params=request["query"] or None, headers=headers, content=body
        )

    def learn_tokens(self, exchange: dict[str, Any], answer: Any) -> None:
        """Generated tokens differ per run: map the recorded one to ours for later calls."""
        recorded = json.loads(exchange["body"])
        if exchange["request"]["path"] == "/instance/create" and exchange["status"] == 201:
            self.substitutions[recorded["hash"]] = answer["hash"]

    def wait_for_state(self, name: str, state: str) -> None:
        wait_until(lambda: self.simulator.control("GET", f"instances/{name}")["state"] == state, timeout=5)


# Recorded waits ("3 s later", "right after it read 'connecting'") become waits on the state itself.
STATE_BEFORE = {41: ("peer1", "close"), 42: ("peer1", "close"), 57: ("peer1", "connecting")}


def test_every_recorded_exchange_replays_with_the_same_status_and_body_shape(simulator, webhook_receiver):
    simulator.configure(whatsapp_reachable=False, offline_close_after=1.0)
    replayer = Replayer(simulator, webhook_receiver)
    failures = []
    for exchange in RECORDING["exchanges"]:
        if exchange["number"] in STATE_BEFORE:
            replayer.wait_for_state(*STATE_BEFORE[exchange["number"]])
        response = replayer.send(exchange)
        label = f"#{exchange['number']} {exchange['title']}"
        if response.status_code != exchange["status"]:
            failures.append(f"{label}: status {response.status_code} != {exchange['status']}: {response.text:.300}")
            continue
        assert response.headers["content-type"].startswith("application/json"), label
        expected = json.loads(replayer.rewrite(exchange["body"]))
        answer = response.json()
        problems = shape_mismatches(expected, answer, compare_values=exchange["number"] not in SHAPE_ONLY)
        failures += [f"{label}: {problem}" for problem in problems]
        replayer.learn_tokens(exchange, answer)
    assert len(RECORDING["exchanges"]) == 75
    assert not failures, "\n".join(failures)
    check_recorded_webhooks(webhook_receiver)


def check_recorded_webhooks(receiver: WebhookReceiver) -> None:
    """The same (path, event, instance) combinations as the real server's sink saw, with the same envelope."""
    expected = {(row["path"], row["event"], row["instance"]) for row in RECORDING["webhooks"]["counts"]}

    def seen() -> set[tuple[str, str, str]]:
        return {(r.path, r.body["event"], r.body["instance"]) for r in receiver.events()}

    wait_until(lambda: seen() >= expected, timeout=5)
    assert seen() == expected
    for sample in RECORDING["webhooks"]["first_of_each"]:
        first = next(
            r
            for r in receiver.events(sample["event"])
            if r.path == sample["path"] and r.body["instance"] == sample["instance"]
        )
        expected_body = json.loads(json.dumps(sample["body"]).replace(RECORDED_SINK, receiver.url))
        assert shape_mismatches(expected_body, first.body) == [], sample["path"]
        assert ("X-Peer-Test" in first.headers) == ("X-Peer-Test" in sample["headers"])
        assert first.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("expected", "actual", "problem"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, "keys differ"),
        ({"a": None}, {"a": "x"}, "expected NoneType"),
        ({"a": "x"}, {"a": "y"}, "expected 'x'"),
        ({"id": "x"}, {"id": "y"}, None),
        ([1], [1, 2], "list of 1"),
    ],
)
def test_the_shape_comparison_catches_what_it_should(expected, actual, problem):
    problems = shape_mismatches(expected, actual)
    assert (problem is None and problems == []) or any(problem in p for p in problems)
