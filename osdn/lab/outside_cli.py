"""`osdn lab dns ...` and `osdn lab outside ...`: change the lab's outside world while it runs.

Argument parsing and printing only; the work is in osdn.lab.extdns (the zone file its DNS server
reads) and osdn.lab.outside (addresses of the outside web server).
"""

from __future__ import annotations

import click

from osdn.lab.cli import find_lab, lab_errors

_name = click.option("--name", "lab_name", default="lab", show_default=True, help="Lab name.")
_dir = click.option("--dir", "lab_dir", default="", metavar="DIR", help="Lab directory (as for `lab up`).")


@click.group()
def dns() -> None:
    """Change the lab's outside DNS zone (ext.test) at run time.

    The lab's outside DNS server (203.0.113.53) answers for ext.test from a zone file in the lab
    dir and re-reads it on the next query after a change, with each record's own TTL.

    \b
    Examples:
      osdn lab dns set api 203.0.113.90
      osdn lab dns set api.ext.test 203.0.113.90,203.0.113.91 --ttl 1
      osdn lab dns del api
    """


@dns.command("set")
@click.argument("record", metavar="NAME")
@click.argument("addresses")
@click.option("--ttl", default=5, show_default=True, type=int, help="TTL of the answer, in seconds.")
@_name
@_dir
@lab_errors
def dns_set(record: str, addresses: str, ttl: int, lab_name: str, lab_dir: str) -> None:
    """Set NAME's A records to ADDRESSES (IP[,IP...]), replacing any it had.

    NAME is `web` or `web.ext.test`; names outside ext.test are refused. Pods see the change at
    their next query (after the TTL of what their resolver cached).

    \b
    Examples:
      osdn lab dns set www.ext.test 203.0.113.80
      osdn lab dns set race 203.0.113.100,203.0.113.101 --ttl 1
    """
    from osdn.lab import extdns
    lab = find_lab(lab_name, lab_dir)
    full = extdns.set_record(extdns.zone_path(lab.dir), record, addresses.split(","), ttl)
    click.echo(f"{full} A {addresses.replace(',', ' ')} (ttl {ttl}s)")


@dns.command("del")
@click.argument("record", metavar="NAME")
@_name
@_dir
@lab_errors
def dns_del(record: str, lab_name: str, lab_dir: str) -> None:
    """Delete NAME's records (the name then answers NXDOMAIN).

    NAME is `web` or `web.ext.test`. The lab's outside DNS server answers NXDOMAIN (with the zone's
    SOA) from its next query on; resolvers that cached the name keep it for its TTL.

    \b
    Examples:
      osdn lab dns del www.ext.test
      osdn lab dns del race --name lab2
    """
    from osdn.lab import extdns
    lab = find_lab(lab_name, lab_dir)
    full = extdns.fqdn(record)
    if not extdns.delete_record(extdns.zone_path(lab.dir), record):
        raise click.ClickException(f"{full} has no records")
    click.echo(f"{full} deleted")


@click.group()
def outside() -> None:
    """The lab's outside world (203.0.113.0/24): add web-server addresses.

    The outside web server (namespace osdn-<lab>-web) answers HTTP on port 80 of each of its
    addresses with "you are CLIENT_IP:PORT"; `lab dns set` can give them names under ext.test.

    \b
    Examples:
      osdn lab outside add 203.0.113.90
    """


@outside.command("add")
@click.argument("ip")
@_name
@_dir
@lab_errors
def outside_add(ip: str, lab_name: str, lab_dir: str) -> None:
    """Add IP to the outside web server: HTTP on IP:80 answers "you are CLIENT_IP:PORT".

    IP must be in 203.0.113.0/24 and not the router (.1) or the DNS server (.53).

    \b
    Examples:
      osdn lab outside add 203.0.113.90
      osdn lab outside add 203.0.113.91 --name lab2
    """
    from osdn.lab.outside import add_outside
    added = add_outside(find_lab(lab_name, lab_dir), ip)
    click.echo(f"outside web server on {ip}:80" + ("" if added else " (already there)"))
