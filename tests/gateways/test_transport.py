"""The gateway transport builds its TLS context once per process (loading the CA bundle costs 50-90 ms of CPU,
and the send task opens a client per message)."""

from __future__ import annotations

import httpx

from instances.gateways import transport


def test_clients_share_one_tls_context(monkeypatch):
    built = []
    real = httpx.create_ssl_context

    def counting(*args, **kwargs):
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(httpx, "create_ssl_context", counting)
    transport.tls_context.cache_clear()
    try:
        clients = [transport.Transport("https://gateway.example", "key") for _ in range(5)]
        for client in clients:
            client.close()
        assert len(built) == 1
    finally:
        transport.tls_context.cache_clear()
