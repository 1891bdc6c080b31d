"""A webhook receiver for the notification tests: a real process (starlette under uvicorn) on loopback.

`python -m tests.receiver --port P --out FILE [--secret S] [--status 200]` appends one JSON line per
POST to FILE: the headers the sender set, the body, and whether its signature verifies with S.
`GET /health` answers 200 so the tests know it is up. `running_receiver` starts and stops one.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry.notify.message import EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


def build_app(out: Path, secret: str, status: int) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    async def hook(request: Request) -> JSONResponse:
        body = await request.body()
        stamp = request.headers.get(TIMESTAMP_HEADER, "")
        signed = request.headers.get(SIGNATURE_HEADER, "")
        record = {
            "event": request.headers.get(EVENT_HEADER),
            "timestamp": stamp,
            "signature": signed,
            "valid": bool(secret) and verify(secret, stamp, body, signed),
            "body": json.loads(body),
        }
        with out.open("a") as f:
            f.write(json.dumps(record) + "\n")
        return JSONResponse({"ok": status < 400}, status_code=status)

    async def health(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/hook/{token}", hook, methods=["POST"]), Route("/health", health)])


@dataclass
class Receiver:
    url: str  # the webhook URL to configure, with a token in its path as Slack's have
    out: Path

    def received(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines() if line]


@contextmanager
def running_receiver(
    tmpdir: Path, port: int, secret: str = "", status: int = 200, token: str = "T0KEN-secret"
) -> Iterator[Receiver]:
    from tests.stack import ServerProcess, child_env

    out = tmpdir / f"received-{port}.jsonl"
    argv = [sys.executable, "-m", "tests.receiver", "--port", str(port), "--out", str(out)]
    argv += ["--status", str(status)] + (["--secret", secret] if secret else [])
    root = Path(__file__).resolve().parents[1]
    proc = ServerProcess("receiver", argv, tmpdir / f"receiver-{port}.log", child_env(), root)
    try:
        proc.wait_until_answers(f"http://127.0.0.1:{port}/health", 30)
        yield Receiver(f"http://127.0.0.1:{port}/hook/{token}", out)
    finally:
        proc.stop()


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--secret", default="")
    parser.add_argument("--status", type=int, default=200)
    args = parser.parse_args()
    app = build_app(args.out, args.secret, args.status)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
