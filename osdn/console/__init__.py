"""The network console: a single-page web app (plain JS + SVG, shipped in `static/`) and its JSON
endpoints under /console/, computed with osdn.model from the objects the caller may read.

`grid`, `svg` and `topology` are pure (the matrix heat map's data and drawing, the topology's data);
`routes` is the HTTP face, given a `Backend` by the API server (who the caller is, what they may
read, a dry run of a manifest, a change feed), so this package never touches the store's RBAC itself.
"""
