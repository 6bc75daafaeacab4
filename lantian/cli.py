"""The `lantian` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

import orjson

from ingest import Decoded, decode_message
from ingest._render import record_as_dict
from lantian.app import serve, system_clock
from lantian.settings import ConfigError, Settings, load_settings


def _config_dir(arg: str | None) -> Path:
    return Path(arg or os.environ.get("LANTIAN_CONFIG") or "config")


def _load(arg: str | None) -> Settings:
    return load_settings(_config_dir(arg), os.environ)


def cmd_run(args: argparse.Namespace) -> int:
    settings = _load(args.config)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        logging.getLogger("lantian").info(
            "Lantian listening on http://%s:%d, broker %s:%d",
            settings.http_host, settings.http_port, settings.broker.host, settings.broker.port,
        )
        await serve(settings, stop)

    asyncio.run(main())
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    """Decode one payload as the service would; print the records, or the reason it
    would be dead-lettered (exit status 1)."""
    settings = _load(args.config)
    payload = Path(args.file).read_bytes() if args.file else sys.stdin.buffer.read()
    outcome = decode_message(
        args.topic, payload, ctx=settings.decode, topics=settings.topics, now=system_clock()
    )
    result = outcome.result
    if isinstance(result, Decoded):
        body = {
            "kind": outcome.kind,
            "records": [record_as_dict(r) for r in result.records],
        }
        if result.note:
            body["note"] = result.note
        sys.stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    sys.stdout.write(
        orjson.dumps(
            {"kind": outcome.kind, "rejected": result.code, "reason": result.reason},
            option=orjson.OPT_INDENT_2,
        ).decode()
        + "\n"
    )
    return 1


def cmd_check_config(args: argparse.Namespace) -> int:
    s = _load(args.config)
    print(
        f"config OK: {len(s.stations)} stations, {len(s.zones)} zones, "
        f"broker {s.broker.host}:{s.broker.port}, HTTP {s.http_host}:{s.http_port}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lantian", description=__doc__)
    p.add_argument("--config", help="config directory (default: $LANTIAN_CONFIG or ./config)")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the service").set_defaults(func=cmd_run)
    d = sub.add_parser("decode", help="decode one payload from stdin as the service would")
    d.add_argument("--topic", required=True, help="the MQTT topic it arrived on")
    d.add_argument("--file", help="read the payload from this file instead of stdin")
    d.set_defaults(func=cmd_decode)
    sub.add_parser("check-config", help="load and validate config/, then exit").set_defaults(
        func=cmd_check_config
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"lantian: config error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
