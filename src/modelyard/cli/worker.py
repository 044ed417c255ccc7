"""``modelyard worker``: deliver events in a process of its own."""

from __future__ import annotations

import click

from modelyard.cli.options import UserError, backend_store_option, settings_from


@click.command()
@backend_store_option
@click.option("--name", help="How this worker signs its attempts in the delivery log.")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--log-level", help="debug, info, warning or error. Default: info")
def worker(
    backend_store_uri: str | None, name: str | None, once: bool, log_level: str | None
) -> None:
    """Fan events out to webhooks and CI triggers and send them, with retries, until stopped
    (SIGINT or SIGTERM). Run several on PostgreSQL; they never send the same attempt twice.
    Set MODELYARD_WORKER_IN_SERVER=false on the servers when workers run apart."""
    import logging
    import signal
    import threading

    from modelyard import bootstrap
    from modelyard.errors import ModelyardError

    settings = settings_from(backend_store_uri=backend_store_uri, log_level=log_level)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        container = bootstrap.build(settings, initialise=False)
    except ModelyardError as exc:
        raise UserError(exc.message) from None
    delivery = container.delivery_worker(name)
    stop = threading.Event()

    def halt(*_: object) -> None:
        stop.set()
        delivery.wake()

    signal.signal(signal.SIGTERM, halt)
    signal.signal(signal.SIGINT, halt)
    click.echo(f"modelyard worker {delivery.name} delivering", err=True)
    try:
        if once:
            while delivery.run_once():
                pass
        else:
            delivery.run_forever(stop, settings.worker_poll_s)
    finally:
        delivery.close()
        container.close()
