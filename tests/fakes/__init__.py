"""Local stand-ins for the chat platforms (Telegram Bot API, Zalo OA API) used by the tests:
the only things faked; the gateway and python-telegram-bot run for real against them."""
