"""The egress router program (`osdn egress-router`): redirect, HTTP proxy and DNS proxy modes.

Layout: `osdn.model.egress_grammar` (bash `read`/regex semantics of the upstream scripts) and
`osdn.model.egress_redirect` (redirect mode, shared with the model so verify/trace read routers the
same way), `http_acl` and `dns_config` parse the environment and render what the upstream scripts
generate (all pure);
`netsetup` applies the macvlan address, routes and nftables rules inside the router's own network
namespace (through osdn.kernel.ownnet); `http_proxy` is the asyncio HTTP proxy, `dns_proxy` the
TCP forwarder, both forwarding on `epollfwd` (a plain epoll loop; the HTTP proxy's CONNECT tunnels);
`main` dispatches on the environment as the upstream images do.
"""
