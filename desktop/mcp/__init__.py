"""MCP servers: their configuration (Claude Desktop's format), connections, tools and resources."""
