"""The `log` import: the plugin's lines into Python logging (logger `paydesk.plugin`), tagged
with the tenant and truncated to 2,048 bytes."""

import logging

MAX_LINE = 2048

LEVELS = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO,
          "warn": logging.WARNING, "error": logging.ERROR}


def write(ctx, level: str, message: str) -> None:
    line = message.encode()[:MAX_LINE].decode(errors="ignore")
    ctx.services.log.getChild("plugin").log(LEVELS[level], "plugin: %s", line, extra={"tenant": ctx.tenant})


FUNCTIONS = {"write": write}
