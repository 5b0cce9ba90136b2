"""Who is a VIP and how urgently a call is answered (pure Python: the Lambda package imports it).

VIP and routing rule (`routing`): a customer is a VIP when their RFM segment is one of
VIP_SEGMENTS or their CLV is in the top VIP_CLV_SHARE of the directory; Amazon Connect queues
answer priority 1 first (5 is the default): VIP at churn risk → 1, VIP → 2, at churn risk → 3,
everyone else → 5. "At churn risk" is the served model's label (probability at or above its
cost-optimal threshold, notebook 04).
"""

from __future__ import annotations

import re

VIP_SEGMENTS = ("Champions", "Loyal")
# The top 2 % by CLV: with few repeat buyers (3 % in the Olist data) CLV barely varies below the
# top few percent (median 4.6, 90th percentile 5.2, 99th 17.6 on the default data), so a wider
# share would make one-time buyers VIPs by a few cents.
VIP_CLV_SHARE = 0.02
DEFAULT_PRIORITY = 5
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def normalise_phone(address: object) -> str | None:
    """An E.164 number, or None for anything that is not one (spaces and dashes are ignored)."""
    if not isinstance(address, str):
        return None
    number = re.sub(r"[\s().-]", "", address)
    return number if E164.match(number) else None


def is_vip(segment: str | None, clv: float | None, clv_vip_from: float | None) -> bool:
    """VIP by segment or by CLV (the rule above)."""
    return (segment in VIP_SEGMENTS) or (clv is not None and clv_vip_from is not None
                                         and clv >= clv_vip_from)


def routing_priority(vip: bool, at_risk: bool) -> int:
    """Amazon Connect routing priority (1 answered first, 5 the default)."""
    if vip:
        return 1 if at_risk else 2
    return 3 if at_risk else DEFAULT_PRIORITY
