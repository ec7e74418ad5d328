"""A host that enforces no fuel and no time limit (the policy's limits are ignored)."""

from __future__ import annotations

import dataclasses
import sys

from reference_host import cli
from reference_host.host import limits_from_policy
from reference_host.limits import ResourceLimits
from reference_host.policy import Policy
from reference_host.rpc import instances


def _unlimited(policy: Policy) -> ResourceLimits:
    return dataclasses.replace(limits_from_policy(policy), max_fuel=None, execution_timeout_s=1e9)


if __name__ == "__main__":
    setattr(instances, "limits_from_policy", _unlimited)  # noqa: B010 - the breakage itself
    sys.exit(cli.main(sys.argv[1:]))
