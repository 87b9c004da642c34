"""osdn.master: the SDN master controllers (NetIDs, HostSubnets, egress IPs, project defaults).

Each controller is level-triggered: informers (osdn.client.informer) feed a work queue of dirty keys;
one worker thread reconciles a key by reading the caches, calling the pure decision functions in
`osdn.model` and writing the result through the API client with optimistic concurrency. They run
inside `osdn server` (threads, loopback client) or as `osdn master` against a remote API server.
"""
