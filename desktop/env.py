"""Every environment variable the app reads, named once. (No imports: the launch reads these
before anything heavy is loaded.)"""

API_KEY = "OPENAI_API_KEY"
BASE_URL = "OPENAI_BASE_URL"
MODEL = "CHATKIT_DESKTOP_MODEL"
API = "CHATKIT_DESKTOP_API"
DATA_DIR = "CHATKIT_DESKTOP_DATA_DIR"
TOKEN = "CHATKIT_DESKTOP_TOKEN"  # noqa: S105 (a variable name, not a secret)

ALL = (API_KEY, BASE_URL, MODEL, API, DATA_DIR, TOKEN)
