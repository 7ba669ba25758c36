"""The HTTP test server's fixtures, for the tests of the server itself."""

from servers.http import http_stub, https_stub, stub  # noqa: F401  (pytest fixtures)
