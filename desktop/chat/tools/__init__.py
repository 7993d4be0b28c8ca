"""The agent's tools: a catalog of what exists (cheap to import, for Settings), one module per
tool, and the registry that hands an assistant's chosen tools to the agent builder."""
