"""The route router: Routes, Services and Endpoints served by HAProxy (`osdn router`).

Pure parts: `hsts` (the upstream router's HSTS value rules), `admission` (which route owns which
host), `backends` (route -> weighted endpoints), `render` (the HAProxy configuration and its files),
`status` (each route's status.ingress entry), `ingress` (Ingress -> routes). Side effects: `haproxy`
(files, `haproxy -c`, the master-worker process and its reloads) and `controller` (informers,
batching, status writes).
"""
