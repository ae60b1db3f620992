"""`python -m e2e.simulator --clusters 100 [--prefix sim-] [--nodes 3] [--port 0]`

Prints one JSON line once listening ({"url": ..., "clusters": [...]}) and serves until SIGTERM or
SIGINT. Each cluster's kubeconfig server is <url>/clusters/<name>; knobs are under <url>/admin/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from .server import Simulator


async def main(args: argparse.Namespace) -> None:
    simulator = Simulator(args.port, args.nodes, args.version, args.event_log)
    for i in range(args.clusters):
        simulator.add(f"{args.prefix}{i}")
    await simulator.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(json.dumps({"url": simulator.url, "clusters": list(simulator.clusters)}), flush=True)
    await stop.wait()
    await simulator.stop()


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m e2e.simulator", description=__doc__.split("\n")[0])
    parser.add_argument("--clusters", type=int, default=1, help="virtual clusters to start with")
    parser.add_argument("--prefix", default="sim-", help="their names: <prefix><index>")
    parser.add_argument("--nodes", type=int, default=3, help="Ready Nodes per virtual cluster")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--version", default="v1.35.8", help="the Kubernetes version they report")
    parser.add_argument("--event-log", type=int, default=64,
                        help="watch events kept per virtual cluster (a watch from an older version gets 410)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse(sys.argv[1:])))
