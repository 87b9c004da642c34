"""`osdn master`: run the SDN master controllers against a (remote) API server."""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path

import click
import yaml

from osdn.cli.context import Ctx, handle_errors, pass_ctx
from osdn.cli.server_election import election_options
from osdn.model.leaderelection import ElectionConfig


@click.command("master")
@click.option("--master-config", type=click.Path(exists=True, dir_okay=False), default=None,
              help="master.yaml (the egressHealth section configures egress node probing).")
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
@election_options(True)
@pass_ctx
@handle_errors
def master(ctx: Ctx, master_config: str | None, log_level: str, election: ElectionConfig | None) -> None:
    """Run the master controllers (NetIDs, HostSubnets, egress IPs) until interrupted.

    `osdn server` already runs them in-process; use this against a server started with
    --no-controllers elsewhere. Several may run: the one holding the Lease kube-system/osdn-master
    acts (--leader-elect, the default).

    \b
    Examples:
      osdn --config admin.conf master --master-config master.yaml
    """
    from osdn.master.leader import default_identity, master_service
    from osdn.master.manager import MasterOptions

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    mc = yaml.safe_load(Path(master_config).read_text()) or {} if master_config else {}
    running = master_service(ctx.client.config, MasterOptions.from_config(mc), election,
                             default_identity(f"master-{os.getpid()}"))
    running.start()
    click.echo(f"osdn master: controllers {'elected' if election else 'running'} against "
               f"{ctx.client.config.server}", err=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
