"""``unisend sandbox serve``: a local SMTP server and a web inbox over the sandbox store.

Mail that any application sends to the SMTP port is kept, byte for byte with its
envelope, in the same SQLite file as ``sandbox://`` (so ``unisend sandbox list`` shows
it too), and a browser shows every stored message at ``http://127.0.0.1:8025/``.
Needs the extra ``unisend[server]`` (aiosmtpd, Starlette, uvicorn, cryptography).

Modules, one job each: :mod:`.store` (the SQLite file), :mod:`.mime` (raw bytes to the
fields the API shows), :mod:`.smtp` (ingest), :mod:`.tls` (the certificate made at
start), :mod:`.events` (live notifications), :mod:`.api` (JSON routes), :mod:`.view`
(the message HTML, framed), :mod:`.ui` (the page and its static files),
:mod:`.security` (headers, Host and Origin checks), :mod:`.app` (the ASGI app),
:mod:`.serve` (both servers in one event loop) and :mod:`.command` (the CLI).
"""
