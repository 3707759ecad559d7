"""Network guard: refuse private and reserved addresses at connection time; host overrides.

The public place of the guard, as settings name it
(``TWISTED_DNS_RESOLVER = "brokenlinks.net.guard.GuardedResolver"``): the policy (which
addresses are refused, ``BROKENLINKS_RESOLVE`` overrides) lives in
:mod:`brokenlinks.net.policy`, the Twisted resolver that applies it and the side channel of
refused hosts in :mod:`brokenlinks.net.resolver`; both are re-exported here.
"""

from __future__ import annotations

from brokenlinks.net.policy import (
    HostPolicy,
    match_override,
    refusal_reason,
    split_port,
)
from brokenlinks.net.resolver import (
    GuardedResolver,
    GuardRefused,
    clear_refused_hosts,
    guard_refusal,
    record_refused,
    refused_host,
)

__all__ = [
    "GuardRefused",
    "GuardedResolver",
    "HostPolicy",
    "clear_refused_hosts",
    "guard_refusal",
    "match_override",
    "record_refused",
    "refusal_reason",
    "refused_host",
    "split_port",
]
