"""Every environment variable the app reads, named once. (No imports: the launch reads these
before anything heavy is loaded.)"""

API_KEY = "OPENAI_API_KEY"
BASE_URL = "OPENAI_BASE_URL"
MODEL = "CHATKIT_DESKTOP_MODEL"
API = "CHATKIT_DESKTOP_API"
DATA_DIR = "CHATKIT_DESKTOP_DATA_DIR"
TOKEN = "CHATKIT_DESKTOP_TOKEN"  # noqa: S105 (a variable name, not a secret)

ALL = (API_KEY, BASE_URL, MODEL, API, DATA_DIR, TOKEN)

# Not environment variables, but named here for the same reason: a second launch asks the running
# instance to show its window with these (desktop.shell.instance) before anything heavy is loaded,
# and the server (desktop.api.security) lets only them through with the focus secret.
FOCUS_PATH = "/api/instance/focus"
FOCUS_HEADER = "X-Instance-Focus"
