"""Turn ../shared/reference/evolution-2.3.6-recorded.md into evolution-2.3.6.json (run again if the recording changes).

Usage: python tests/gateways/recordings/extract.py [path/to/evolution-2.3.6-recorded.md]
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[3] / "shared" / "reference" / "evolution-2.3.6-recorded.md"
TARGET = HERE / "evolution-2.3.6.json"


def parse_curl(command: str) -> dict:
    """Method, path, query, headers and body of one recorded curl command."""
    words = shlex.split(command)
    request: dict = {"method": "GET", "headers": {}, "body": None}
    index = 1
    while index < len(words):
        word = words[index]
        if word == "-X":
            request["method"] = words[index + 1]
            index += 1
        elif word == "-H":
            name, _, value = words[index + 1].partition(":")
            request["headers"][name.strip()] = value.strip()
            index += 1
        elif word == "--data-binary":
            request["body"] = words[index + 1]
            index += 1
        elif word.startswith("http"):
            url = urlsplit(word)
            request["path"] = url.path
            request["query"] = dict(parse_qsl(url.query))
        index += 1
    return request


def parse_exchange(section: str) -> dict:
    title = section.splitlines()[0].removeprefix("### ")
    number, _, title = title.partition(". ")
    curl = re.search(r"```sh\n(.*?)\n```", section, re.S).group(1)
    http = re.search(r"```http\n(.*?)\n```", section, re.S).group(1)
    head, _, body = http.partition("\n\n")
    status_line, *header_lines = head.splitlines()
    headers = dict(line.split(": ", 1) for line in header_lines)
    elapsed = re.search(r"Elapsed: ([\d.]+)s", section)
    return {
        "number": int(number),
        "title": title,
        "request": parse_curl(curl),
        "status": int(status_line.split()[1]),
        "content_type": headers.get("Content-Type"),
        "body": body,
        "elapsed": float(elapsed.group(1)) if elapsed else None,
    }


def parse_webhooks(section: str) -> dict:
    counts = []
    block = re.search(r"Counts by \(method, path, event\):\n\n```\n(.*?)\n```", section, re.S).group(1)
    for line in block.splitlines():
        count, method, path, event, instance = line.split()
        counts.append({"count": int(count), "method": method, "path": path, "event": event, "instance": instance})
    firsts = []
    for match in re.finditer(
        r"#### (\w+) (\S+) — event '([^']+)' \(instance '([^']+)'\)\n\n```json\n(.*?)\n```", section, re.S
    ):
        method, path, event, instance, raw = match.groups()
        firsts.append({"method": method, "path": path, "event": event, "instance": instance, **json.loads(raw)})
    return {"counts": counts, "first_of_each": firsts}


def extract(source: Path) -> dict:
    text = source.read_text()
    head = text.split("\n## ", 1)[0]
    key = re.search(r"Global API key used: `([^`]+)`", head).group(1)
    sections = re.split(r"\n(?=### \d+\. )", text.split("\n## J. ", 1)[0])[1:]
    exchanges = [parse_exchange(section) for section in sections]
    webhooks = parse_webhooks(text.split("\n## J. ", 1)[1])
    return {"source": source.name, "global_api_key": key, "exchanges": exchanges, "webhooks": webhooks}


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE
    data = extract(path)
    TARGET.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(data['exchanges'])} exchanges, {len(data['webhooks']['first_of_each'])} webhook samples -> {TARGET}")
