"""``vsodboost plugins``: list every registered target, flow backend and spatial model with its plugin."""

from __future__ import annotations

import argparse
import json

from .. import plugins

_KINDS = (("target", "targets"), ("flow", "flow backends"), ("spatial", "spatial models"),
          ("encoder", "encoders"), ("theta", "Θs of Eq. 1"))


def run(args: argparse.Namespace) -> int:
    table = {kind: plugins.registry(kind).list() for kind, _ in _KINDS}
    if args.json:
        print(json.dumps({k: [{"name": e.name, "plugin": e.plugin, "description": e.description} for e in v]
                          for k, v in table.items()}, indent=2))
        return 0
    for kind, title in _KINDS:
        entries = table[kind]
        print(f"{title} ({len(entries)}):")
        width = max((len(e.name) for e in entries), default=0)
        for e in entries:
            print(f"  {e.name:<{width}}  [{e.plugin}]  {e.description}")
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
