"""The ``modelyard`` command line. Commands import what they need when they run."""

from __future__ import annotations

import click

from modelyard.cli.db import db
from modelyard.cli.deliveries import deliveries
from modelyard.cli.deploy import approve, deploy, deployments, rollback
from modelyard.cli.evaluate import evaluate
from modelyard.cli.gc import gc
from modelyard.cli.lineage import lineage
from modelyard.cli.projects import projects
from modelyard.cli.route import route
from modelyard.cli.serve import serve
from modelyard.cli.server import server
from modelyard.cli.worker import worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="modelyard")
def main() -> None:
    """modelyard: track experiments, register models, deploy and watch them."""


main.add_command(server)
main.add_command(db)
main.add_command(projects)
main.add_command(gc)
main.add_command(lineage)
main.add_command(worker)
main.add_command(deliveries)
main.add_command(evaluate)
main.add_command(serve)
main.add_command(deploy)
main.add_command(rollback)
main.add_command(approve)
main.add_command(deployments)
main.add_command(route)

__all__ = ["main"]
