"""``python -m pixie_assets.online`` (``make serve``): the online service over ``$PIXIE_HOME``
on 127.0.0.1:``PIXIE_SERVE_PORT``."""

from __future__ import annotations

import argparse
import logging
import os
from datetime import date

import uvicorn

from pixie_assets.core.settings import Settings
from pixie_assets.online.app import create_app
from pixie_assets.online.service import Service

DEFAULT_PORT = 8000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PIXIE_SERVE_PORT", DEFAULT_PORT))
    )
    parser.add_argument(
        "--day", type=date.fromisoformat, help="serve this graph day (default: the newest)"
    )
    parser.add_argument(
        "--poll",
        type=float,
        default=30.0,
        help="seconds between checks for a new graph or champion (0: only POST /v1/admin/refresh)",
    )
    parser.add_argument("--threads", type=int, default=8, help="request threads")
    parser.add_argument(
        "--walk-steps", type=int, help="every client's walk budget per request (its own: 10-20k)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    service = Service(Settings.from_env(), day=args.day, walk_steps=args.walk_steps)
    app = create_app(service, poll_seconds=args.poll)
    config = uvicorn.Config(app, host=args.host, port=args.port, access_log=False,
                            limit_concurrency=1000)  # fmt: skip
    server = uvicorn.Server(config)
    import anyio.to_thread

    async def start() -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = args.threads
        await server.serve()

    anyio.run(start)


if __name__ == "__main__":
    main()
