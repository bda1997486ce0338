"""The Azure SDK loggers' level, shared by the CLI and the Functions app.

The Azure SDKs log every HTTP request and response (``azure.core.pipeline.policies.http_logging_policy``) and
more at INFO. A process that logs its own progress at INFO would drown in them (in Functions, each one becomes an
Information trace in Application Insights: host.json's ``"Azure.Core"`` category does not reach Python loggers).
So both entry points keep the ``azure`` loggers at WARNING, whatever the root level; the CLI's ``-vv`` asks for the
SDK's own logs explicitly (request lines and headers, which azure-core redacts except for an allow-list).
"""

from __future__ import annotations

import logging

QUIET_LOGGERS = ("azure", "azure.core.pipeline.policies.http_logging_policy")


def quiet_azure_sdk(*, sdk_logs: bool = False) -> None:
    """Azure SDK loggers at WARNING; with ``sdk_logs``, back to following the root logger's level."""
    level = logging.NOTSET if sdk_logs else logging.WARNING
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(level)
