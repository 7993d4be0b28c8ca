"""The HTTP layer: the app factory, routes, security, errors and the server. The only
package that imports the web framework."""
