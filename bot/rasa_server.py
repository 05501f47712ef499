"""Starts the Rasa server: REST channel and HTTP API, bound to 127.0.0.1, token required.

Run as `python -m bot.rasa_server --model models/tiepdan-….tar.gz`; `tiepdan run` does it.
The token comes from the settings (not the command line, where `ps` would show it).
"""

from __future__ import annotations

import argparse
import logging
import os

from bot.runtime import write_endpoints
from bot.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    args = parser.parse_args()
    settings = load_settings()
    if not settings.rasa_token:
        raise SystemExit("RASA_TOKEN is empty: Rasa's HTTP API is only enabled with a token.")
    # Two cores: let TensorFlow use them without oversubscribing.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_INTER_OP_PARALLELISM_THREADS", "1")
    os.environ.setdefault("TF_INTRA_OP_PARALLELISM_THREADS", "2")

    import rasa.api
    from rasa.utils.common import configure_logging_and_warnings

    configure_logging_and_warnings(getattr(logging, settings.log_level, logging.INFO))
    rasa.api.run(
        model=args.model,
        endpoints=str(write_endpoints(settings)),
        credentials=str(settings.root / "credentials.yml"),
        interface="127.0.0.1",
        port=settings.rasa_port,
        enable_api=True,
        auth_token=settings.rasa_token,
    )


if __name__ == "__main__":
    main()
