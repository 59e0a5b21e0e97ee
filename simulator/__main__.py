"""`python -m simulator [--host H] [--port P]`: run the Evolution-compatible simulator."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from .app import create_app
from .config import SimulatorConfig


def main(argv: list[str] | None = None) -> None:
    """Parse flags (they win over SIMULATOR_* variables) and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--host", help="interface to bind (SIMULATOR_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (SIMULATOR_PORT, default 8081)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    config = SimulatorConfig.from_env(host=args.host, port=args.port)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s simulator %(levelname)s %(message)s")
    print(f"Recado simulator (Evolution 2.3.6 wire) on {config.public_url} - phone pages at {config.public_url}/_sim/")
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level=args.log_level, access_log=False)


if __name__ == "__main__":
    main()
