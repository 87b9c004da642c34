"""osdn: a software-defined network for multi-tenant container clusters.

Layers (imports point downwards only; enforced by import-linter, see pyproject.toml):
cli/lab -> apiserver/master/node/cni/egress -> client/store -> model -> api -> kernel.
"""

__version__ = "0.1.0"
