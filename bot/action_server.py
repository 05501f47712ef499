"""Starts the action server (rasa-sdk) with the project's logs: one masked JSON object per
line, as the gateway and Rasa write them (`bot.logs`). Run as
`python -m bot.action_server --actions actions --port 5055`; `tiepdan run` does it.

rasa-sdk installs its own coloured handlers on start; they are replaced once it has done so.
The action code is found by package name (`--actions`): nothing here imports it.
"""

from __future__ import annotations

import sys

from bot import logs
from bot.settings import SettingsError, load_settings


def main(argv: list[str] | None = None) -> None:
    from rasa_sdk import utils
    from rasa_sdk.__main__ import main_from_args
    from rasa_sdk.endpoint import create_argument_parser

    args = create_argument_parser().parse_args(argv)
    try:
        level = load_settings().log_level
    except SettingsError as error:  # the actions need no settings: say so, log at INFO
        print(f"action server: {error}; logging at INFO", file=sys.stderr)
        level = "INFO"
    sanic_levels = utils.update_sanic_log_level

    def then_ours(*given: object, **named: object) -> None:
        sanic_levels(*given, **named)  # type: ignore[arg-type]
        logs.take_over(level)

    utils.update_sanic_log_level = then_ours
    main_from_args(args)


if __name__ == "__main__":
    main(sys.argv[1:])
