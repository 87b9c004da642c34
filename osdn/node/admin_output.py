"""The administrator's output chain: osdn's counterpart of openshift-sdn's `OPENSHIFT-ADMIN-OUTPUT-RULES`.

Side effects: nft, in the node's namespace, once. osdn creates `table inet osdn_admin` when (and only
when) it does not exist, and never changes, flushes or deletes it afterwards: not on agent restarts,
full syncs or `Dataplane.teardown` (it is not one of the tables osdn manages). The administrator adds
rules to its regular chain `output_rules`:

    table inet osdn_admin {
        chain forward {            # created by osdn, filter hook forward priority 10
            iifname "osdnbr0" oifname != "osdnbr0" jump output_rules
        }
        chain output_rules {       # empty: the administrator's
        }
    }

Priority 10 runs after osdn's own forward chain (priority 0), so the rules see only traffic the egress
firewall (and NetworkPolicy, isolation) let through. `iifname "osdnbr0" oifname != "osdnbr0"` is the
pod network leaving the node (openshift-sdn: `-i tun0 ! -o tun0`): pods to the outside world and to
node addresses, in the request direction only (replies come in through the uplink). Pod-to-pod and
pod-to-service traffic stays on the bridge and is never seen; egress-router pods send through their
own macvlan, not through the node's forwarding, so their traffic never passes here either; steered
egress-IP traffic is seen once, on the node that sends it out.
"""

from __future__ import annotations

import logging

from osdn.kernel.nft import Nft

log = logging.getLogger(__name__)

TABLE = "osdn_admin"
CHAIN = "output_rules"
PRIORITY = 10


def admin_table_text(bridge: str) -> str:
    """Pure: the script that creates the admin table (only ever run when the table is missing)."""
    return (f"table inet {TABLE} {{\n"
            f"\tchain forward {{\n\t\ttype filter hook forward priority {PRIORITY}; policy accept;\n"
            f'\t\tiifname "{bridge}" oifname != "{bridge}" jump {CHAIN}\n\t}}\n'
            f"\tchain {CHAIN} {{\n\t}}\n}}\n")


def ensure_admin_chain(nft: Nft, bridge: str) -> bool:
    """Create the admin table if it does not exist; True if it was created. An existing one, with
    whatever the administrator put in it, is left exactly as it is."""
    if nft.list_table_json("inet", TABLE) is not None:  # not `list tables`: that reads every table's sets
        return False
    nft.run(admin_table_text(bridge))
    log.info("created the administrator's chain: table inet %s chain %s (netns %s)", TABLE, CHAIN, nft.netns)
    return True
