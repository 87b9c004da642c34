"""Cluster DNS on every node: `zone` (pure: the cluster.local answers from the informer cache),
`cache` (pure: the TTL-bounded cache of upstream answers) and `server` (UDP/TCP sockets in the node
namespace, forwarding, the answer hook). The node agent runs one `server.DnsServer` per node."""
