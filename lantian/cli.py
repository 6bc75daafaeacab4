"""The `lantian` command: run the service, check its config, decode a payload, manage
the named users (`lantian.users`), and work the running service's alerts and reports over
its HTTP API."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

# Only what every command needs is imported here: the service's own modules (ingest, the
# rules, dispatch, numpy, FastAPI) cost a second of start-up, which an officer running
# `alerts list --url ...` should not wait for; `run`, `decode` and `_load` import them,
# and lantian.config imports its loading on first use, so ConfigError alone costs nothing.
# The client commands (`alerts`, `report`) are lantian.client's; the demo is lantian.demo's.
from lantian.client import ServiceError, UsageError, add_client_commands
from lantian.config import ConfigError, config_dir
from lantian.users import add_user_commands

if TYPE_CHECKING:
    from lantian.config import Settings


def _load(arg: str | None) -> Settings:
    from lantian.config import load_settings

    return load_settings(config_dir(arg, os.environ), os.environ)


def cmd_run(args: argparse.Namespace) -> int:
    from lantian import logs
    from lantian.app import serve

    settings = _load(args.config)
    # one line a happening, as text or as JSON for a log shipper; apscheduler quieted
    try:
        logs.configure(settings.log_level, args.log_format)
    except ValueError as exc:  # argparse checks the choices of the flag, not of the variable
        raise UsageError(f"LANTIAN_LOG_FORMAT: {exc}") from exc

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
    from ingest import Decoded, decode_message, record_as_dict
    from lantian.app import system_clock

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
    d = s.dispatch
    print(
        f"config OK: {len(s.stations)} stations, {len(s.zones)} zones, "
        f"broker {s.broker.host}:{s.broker.port}, HTTP {s.http_host}:{s.http_port}; "
        f"{len(s.rules.thresholds)} threshold rules, AQI {s.rules.aqi or 'off'}; "
        f"queues {', '.join(sorted(d.queues))}, {len(d.router.routes)} routes, "
        f"{len(d.tokens)} API tokens"
    )
    demo = [t.name for t in d.tokens if t.secret.startswith("demo-")]
    if demo:
        # not an error (the demo needs them), but a deployment must not keep them
        print(f"lantian: warning: public demo tokens in use: {', '.join(demo)}; replace "
              "them in [[dispatch.tokens]] before deploying", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lantian", description=__doc__)
    p.add_argument("--config", help="config directory (default: $LANTIAN_CONFIG or ./config)")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the service")
    run.add_argument(
        "--log-format", choices=("text", "json"), type=str.lower,
        default=os.environ.get("LANTIAN_LOG_FORMAT") or "text",
        help="log lines as text or as one JSON object a line, for a log shipper "
        "(default: $LANTIAN_LOG_FORMAT or text)",
    )
    run.set_defaults(func=cmd_run)
    d = sub.add_parser("decode", help="decode one payload from stdin as the service would")
    d.add_argument("--topic", required=True, help="the MQTT topic it arrived on")
    d.add_argument("--file", help="read the payload from this file instead of stdin")
    d.set_defaults(func=cmd_decode)
    sub.add_parser("check-config", help="load and validate config/, then exit").set_defaults(
        func=cmd_check_config
    )
    demo = sub.add_parser(
        "demo", add_help=False, help="the Keyan blue-sky story end to end (`lantian demo -h`)"
    )
    # the demo's own parser takes its arguments (see main), so its imports wait until it runs
    demo.set_defaults(func=cmd_demo, demo_args=[])
    add_client_commands(sub)
    add_user_commands(sub, _load)
    return p


def cmd_demo(args: argparse.Namespace) -> int:
    from lantian.demo import main as demo_main

    config = ["--config", args.config] if args.config else []
    return demo_main([*config, *args.demo_args])


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "demo":
        args.demo_args = rest
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"lantian: config error: {exc}", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"lantian: {exc}", file=sys.stderr)
        return 2
    except ServiceError as exc:
        print(f"lantian: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `lantian alerts list | head`: the reader left; Python would otherwise complain
        # again while flushing stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
