"""Real loopback servers for unisend's tests (SMTP on aiosmtpd)."""
