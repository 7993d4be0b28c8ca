"""What tools exist and how their steps read, without importing any of them (Settings and the
API list these before the Agents SDK is loaded)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ToolInfo:
    name: str
    label: str
    description: str
    # The workflow step while it runs, after it finished, and after it failed.
    running: str
    done: str
    failed: str
    icon: str = "bolt"
    # Runs in the page: the turn waits for the page's answer.
    client: bool = False
    # Runs at OpenAI (Responses API only).
    hosted: bool = False
    # Changes something outside the chat: asks the user first unless Settings says otherwise.
    acts: bool = False


CATALOG: dict[str, ToolInfo] = {
    info.name: info
    for info in (
        ToolInfo(
            name="search_chats",
            label="Search your chats",
            description="Finds earlier conversations by the words in them.",
            running="Searching your chats…",
            done="Searched your chats",
            failed="Couldn't search your chats",
            icon="search",
        ),
        ToolInfo(
            name="current_time",
            label="Date and time",
            description="Tells the assistant today's date and the local time.",
            running="Checking the date and time…",
            done="Checked the date and time",
            failed="Couldn't check the date and time",
            icon="clock",
        ),
        ToolInfo(
            name="read_web_page",
            label="Read web pages",
            description="Reads a web page you name and uses its text.",
            running="Reading the page…",
            done="Read the page",
            failed="Couldn't read the page",
            icon="globe",
        ),
        ToolInfo(
            name="web_search",
            label="Web search (OpenAI)",
            description="Searches the web, through OpenAI.",
            running="Searching the web…",
            done="Searched the web",
            failed="Couldn't search the web",
            icon="globe",
            hosted=True,
        ),
        ToolInfo(
            name="code_interpreter",
            label="Code interpreter (OpenAI)",
            description="Runs Python in a sandbox at OpenAI.",
            running="Running code…",
            done="Ran code",
            failed="Couldn't run code",
            icon="square-code",
            hosted=True,
        ),
        ToolInfo(
            name="image_generation",
            label="Image generation (OpenAI)",
            description="Draws images; they are kept with the chat.",
            running="Drawing an image…",
            done="Drew an image",
            failed="Couldn't draw an image",
            icon="images",
            hosted=True,
        ),
        ToolInfo(
            name="set_theme",
            label="Switch the theme",
            description="Switches the app between light and dark.",
            running="Switching the theme…",
            done="Switched the theme",
            failed="Couldn't switch the theme",
            icon="settings-slider",
            client=True,
        ),
        ToolInfo(
            name="copy_to_clipboard",
            label="Copy to the clipboard",
            description="Puts text on your clipboard when you ask.",
            running="Copying to the clipboard…",
            done="Copied to the clipboard",
            failed="Couldn't copy to the clipboard",
            icon="write",
            client=True,
            acts=True,
        ),
        ToolInfo(
            name="open_link",
            label="Open links",
            description="Opens a web page in your browser.",
            running="Opening the link…",
            done="Opened the link",
            failed="Couldn't open the link",
            icon="external-link",
            client=True,
            acts=True,
        ),
    )
}


def client_tool_names() -> set[str]:
    return {i.name for i in CATALOG.values() if i.client}


def step_info(tool_name: str) -> ToolInfo:
    """How a tool's step reads; tools outside the catalog (MCP, a name the model made up) get a
    generic wording."""
    known = CATALOG.get(tool_name)
    if known is not None:
        return known
    short = tool_name[:60]
    return ToolInfo(
        name=tool_name,
        label=short,
        description="",
        running=f"Running {short}…",
        done=f"Ran {short}",
        failed=f"{short} failed",
    )


HOSTED_UNAVAILABLE = (
    "Needs OpenAI's Responses API (provider OpenAI, API flavour Responses); with other "
    "providers it is left out and the rest of the assistant works as usual."
)


def hosted_tool_names() -> set[str]:
    return {i.name for i in CATALOG.values() if i.hosted}


def catalog_view(hosted_available: bool) -> list[dict[str, str | bool]]:
    return [
        {
            "name": i.name,
            "label": i.label,
            "description": i.description,
            "available": hosted_available or not i.hosted,
            "acts": i.acts,
            "note": "" if hosted_available or not i.hosted else HOSTED_UNAVAILABLE,
        }
        for i in CATALOG.values()
    ]
