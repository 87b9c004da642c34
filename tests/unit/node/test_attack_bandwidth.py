"""Pod bandwidth annotations at the edge of what the API accepts (1k..1P bit/s) must be values tc
takes: tc's TBF burst and limit are u32 bytes. 10 ms at 1 Pbit/s is 1.25e12 bytes, which tc refused
("illegal value for burst") from ~3.4 Tbit/s up, so a pod annotated "10T" or "1P" passed the API
and failed at ADD. (Checked against the kernel by hand: tc takes every rate below with its burst,
and reads it back unchanged.)"""

from __future__ import annotations

import pytest

from osdn.api.kinds.pod import bandwidth_problem
from osdn.kernel.tc import burst_for, egress_limit
from osdn.node.bandwidth import wanted

U32 = 2 ** 32 - 1


@pytest.mark.parametrize("text", ["1P", "1e15", "999T", "10T", "3436G", "3437G", "4Ti", "1G", "1k", "1000"])
def test_every_rate_the_api_accepts_fits_tc(text: str) -> None:
    assert bandwidth_problem(text) is None
    pod = {"metadata": {"name": "p", "namespace": "n", "annotations": {
        "kubernetes.io/ingress-bandwidth": text, "kubernetes.io/egress-bandwidth": text}}}
    limits = wanted(pod)
    for rate in (limits.ingress, limits.egress):
        assert rate is not None
        assert 64 * 1024 <= burst_for(rate) <= U32
        assert egress_limit(rate) <= U32


@pytest.mark.parametrize("text", ["1.1P", "2P", "1Pi", "1e16", "999999T", "-1M", "0", "999"])
def test_rates_past_the_edges_are_refused(text: str) -> None:
    assert bandwidth_problem(text) is not None
