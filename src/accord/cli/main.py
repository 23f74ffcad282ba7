"""The `accord` console script: collects the subcommands, one module each."""

from __future__ import annotations

import typer

from accord.cli import bench, chat, demo, explore, replay, sim, stress

app = typer.Typer(
    name="accord",
    help="Keep a realtime voice agent's conversation and the model's server in agreement.",
    no_args_is_help=True,
    add_completion=False,
)

for module in (demo, sim, chat, stress, explore, bench, replay):
    module.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
