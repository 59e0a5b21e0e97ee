"""Make sure Redis answers at REDIS_URL: start a private redis-server for development if needed.

    python -m config.ensure_redis          # ping; start a private server if none answers
    python -m config.ensure_redis --check  # ping only; exit 1 with a hint if none answers
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import redis

BASE_DIR = Path(__file__).resolve().parent.parent
INSTALL_HINT = "Install Redis (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)"


def answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False
    finally:
        client.close()


def start_private_server(url: str, var_dir: Path) -> None:
    """Start a daemonized redis-server on the URL's port, persisting nothing, logging under var/."""
    parts = urlsplit(url)
    if parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
        sys.exit(f"Redis at {url} does not answer, and it is not on this machine: start it there.")
    var_dir.mkdir(parents=True, exist_ok=True)
    port = str(parts.port or 6379)
    command = [
        "redis-server", "--port", port, "--bind", "127.0.0.1", "--daemonize", "yes",
        "--save", "", "--appendonly", "no", "--dir", str(var_dir),
        "--logfile", str(var_dir / "redis.log"), "--pidfile", str(var_dir / "redis.pid"),
    ]
    subprocess.run(command, check=True)  # noqa: S603 - fixed argv, no shell
    for _attempt in range(50):
        if answers(url):
            print(f"Started a private redis-server on port {port} (log: {var_dir / 'redis.log'}).")
            return
        time.sleep(0.1)
    sys.exit(f"redis-server did not answer on port {port}; see {var_dir / 'redis.log'}.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; never start a server")
    arguments = parser.parse_args(argv)
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    if answers(url):
        return
    if arguments.check:
        sys.exit(f"Redis does not answer at {url}. Start it, or let 'make run' start a private one. {INSTALL_HINT}.")
    if shutil.which("redis-server") is None:
        sys.exit(f"Redis does not answer at {url} and no redis-server is installed. {INSTALL_HINT}, or set REDIS_URL.")
    start_private_server(url, Path(os.environ.get("RECADO_VAR_DIR") or BASE_DIR / "var"))


if __name__ == "__main__":
    main()
