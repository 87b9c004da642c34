"""`egress-router`: the egress-router CNI plugin of seed 004 (redirect mode), as a Multus delegate runs it.

The runtime runs it in the node's network namespace with CNI_NETNS, CNI_IFNAME (e.g. `net1`) and
the NetworkAttachmentDefinition's config on stdin (grammar: osdn.model.egress_cni). The whole config
is checked first; a refused one is error code 7 (invalid network config) naming the field and value,
and nothing is touched. ADD: a macvlan child of `interfaceArgs.master` (default: the node's
default-route interface) in `mode` (default bridge) with the master's MTU is created into the pod's
namespace as CNI_IFNAME; there (never in the host's root namespace) it gets the address, the on-link
route to the gateway and the default route via it (eth0 keeps the cluster routes), IPv4 forwarding,
a gratuitous ARP, and the nftables table `ip egress_cni`: DNAT of what arrives on eth0 per
destination, SNAT to the address out of CNI_IFNAME. The same NAT and interface set-up as `osdn
egress-router`. A failed ADD deletes the interface. DEL removes the interface and the table
(nothing to do when the namespace is gone); CHECK verifies the interface has its address.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from osdn.api.cni import INTERNAL, INVALID_CONFIG, CniError, CniRequest, request_from_env, version_result
from osdn.egress import netsetup
from osdn.errors import OsdnError
from osdn.kernel import arp, links, netns, podmacvlan
from osdn.kernel.nft import Nft
from osdn.model.egress_cni import NFT_TABLE, EgressCniConfig, parse_netconf
from osdn.model.egress_grammar import EgressConfigError
from osdn.model.egress_redirect import render_nat

Obj = dict[str, Any]


def config(req: CniRequest) -> EgressCniConfig:
    try:
        return parse_netconf(req.config)
    except EgressConfigError as exc:
        raise CniError(INVALID_CONFIG, "invalid egress-router network config", exc.message) from None


def add(req: CniRequest) -> Obj:
    cfg = config(req)
    try:
        podmacvlan.add_macvlan_here(cfg.master, req.ifname, req.netns, cfg.mode, cfg.mtu)
    except OsdnError as exc:
        raise CniError(INTERNAL, f"cannot add {req.ifname} to the pod", exc.message) from None
    try:
        mac = links.with_netlink(req.netns, lambda nl: netsetup.configure(nl, req.ifname, cfg.address, cfg.gateway))
        netns.set_sysctls(req.netns, {"net.ipv4.ip_forward": 1})
        netns.run_in_netns(req.netns, arp.send_frames, req.ifname, arp.garp_frames(mac, cfg.source_ip))
        with Nft(req.netns) as nft:
            nft.run(render_nat(NFT_TABLE, list(cfg.rules), cfg.source_ip, snat_oif=req.ifname))
    except OsdnError as exc:
        _remove(req)
        raise CniError(INTERNAL, f"cannot set up {req.ifname} in the pod", exc.message) from None
    ip: Obj = {"address": cfg.address, "gateway": cfg.gateway, "interface": 0}
    return {"cniVersion": req.version, "interfaces": [{"name": req.ifname, "mac": mac, "sandbox": req.netns}],
            "ips": [ip if req.version == "1.0.0" else {"version": "4", **ip}], "dns": dict(cfg.dns)}


def _remove(req: CniRequest) -> None:
    links.delete_links(req.netns, [req.ifname])
    with Nft(req.netns) as nft:
        nft.run(f"table ip {NFT_TABLE}\ndelete table ip {NFT_TABLE}\n")


def delete(req: CniRequest) -> None:
    if not req.netns or not netns.netns_exists(req.netns):
        return  # the pod's namespace is gone, and with it the interface and the table
    try:
        _remove(req)
    except OsdnError as exc:
        raise CniError(INTERNAL, f"cannot remove {req.ifname} from the pod", exc.message) from None


def check(req: CniRequest) -> None:
    cfg = config(req)
    state = links.with_netlink(req.netns, lambda nl: links.observe_link(nl, req.ifname))
    if state is None or cfg.address not in state.addresses:
        raise CniError(INTERNAL, f"{req.ifname} is missing or lacks {cfg.address}",
                       f"found {state.addresses if state else 'no interface'} in {req.netns}")


def run(env: Mapping[str, str], stdin: str) -> tuple[int, Obj | None]:
    """One invocation: (exit status, JSON to print or None)."""
    version = "1.0.0"
    try:
        req = request_from_env(env, stdin)
        version = req.version
        if req.command == "VERSION":
            return 0, version_result(req.version)
        if req.command == "ADD":
            return 0, add(req)
        (delete if req.command == "DEL" else check)(req)
        return 0, None
    except CniError as err:
        return err.code, err.to_obj(version)


def main() -> None:
    """Console-script entry point (`egress-router`, the plugin type's binary name)."""
    code, out = run(os.environ, sys.stdin.read() if not sys.stdin.isatty() else "")
    if out is not None:
        sys.stdout.write(json.dumps(out) + "\n")
    sys.exit(code)


if __name__ == "__main__":
    main()
