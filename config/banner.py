"""Print where Recado runs and how to log in: `python -m config.banner` (run by `make run`)."""

from __future__ import annotations

import json
import os
import sys

from django.conf import settings


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    url = settings.PUBLIC_URL
    path = settings.VAR_DIR / "demo-credentials.json"
    try:
        demo = json.loads(path.read_text())
    except (OSError, ValueError):
        sys.exit(f"No demo credentials at {path}: run 'python manage.py seed_demo' (make run does).")
    width = max(len(login["login"]) for login in demo["logins"])
    lines = [
        "",
        f"  Recado is starting at {url}/",
        "",
        "  Demo logins:",
        *(f"    {login['login']:<{width}}  {login['password']}   ({login['who']})" for login in demo["logins"]),
        "",
        f"  Demo API key ({demo['api_key']['company']}): {demo['api_key']['secret']}",
        f"    curl -H 'Authorization: Bearer {demo['api_key']['secret']}' {url}/api/v1/me",
        f"  API docs: {url}/api/docs/   Operator area: {url}/operator/   Health: {url}/readyz",
        f"  Gateway simulator: {settings.EVOLUTION_URL}",
        "",
        "  Ctrl+C stops every process.",
        "",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
