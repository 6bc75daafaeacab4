"""The officer's and the bureau's client: `lantian alerts ...` and `lantian report ...`
against the running service's HTTP API.

    add_client_commands(subparsers)   # lantian.cli's parser gains `alerts` and `report`

The commands hold no business logic: every rule is the API's, and its refusals are
printed as it words them. A connection option that cannot work raises `UsageError`; the
service refusing, failing or not answering raises `ServiceError`; each carries the one
line to show. The config dir is read only to find the service when no --url is given.

Modules: `_api` which service and token, and the requests · `_commands` the command line ·
`_alerts` and `_reports` the commands · `_render` tables, JSON and local times.
"""

from __future__ import annotations

from lantian.client._api import ApiClient, ServiceError, UsageError
from lantian.client._commands import GROUP_BY, OUTCOMES, STATES, add_client_commands

__all__ = [
    "GROUP_BY",
    "OUTCOMES",
    "STATES",
    "ApiClient",
    "ServiceError",
    "UsageError",
    "add_client_commands",
]
