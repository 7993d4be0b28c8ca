"""ChatKit Desktop: a local ChatKit chat app backed by SQLite and the OpenAI Agents SDK."""

__version__ = "0.1.0"
APP_NAME = "chatkit-desktop"
