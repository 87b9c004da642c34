"""The egress router program (`osdn egress-router`): redirect, HTTP proxy and DNS proxy modes.

Layout: `grammar` (bash `read`/regex semantics of the upstream scripts), `redirect`, `http_acl` and
`dns_config` parse the environment and render what the upstream scripts generate (all pure);
`netsetup` applies the macvlan address, routes and nftables rules inside the router's own network
namespace (through osdn.kernel.ownnet); `http_proxy` and `dns_proxy` are the asyncio servers;
`main` dispatches on the environment as the upstream images do.
"""
