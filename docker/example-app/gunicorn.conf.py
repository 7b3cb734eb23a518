"""gunicorn settings of the example app.

Timeouts must nest, or the coverage flush is killed (measured: 0 files when
the graceful timeout was shorter than the flush):
    graceful_timeout  <  covship-shim --grace  <  container stop timeout
      (20 s default)       (COVSHIP_GRACE, 25)     (ECS stopTimeout 30)
"""
import os

bind = "0.0.0.0:" + os.environ.get("PORT", "8000")
# WEB_CONCURRENCY (read by gunicorn itself) sets the worker count; 3 is the
# fallback.
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
# Request logs are not needed for the example; errors go to stderr.
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")


def on_starting(server):
    """Refuse to start with timeouts that would lose coverage."""
    grace = os.environ.get("COVSHIP_GRACE", "25")
    try:
        grace_s = float(grace)
    except ValueError:
        return  # covship-shim itself rejects a bad COVSHIP_GRACE
    graceful = server.cfg.graceful_timeout
    if graceful >= grace_s:
        raise SystemExit(
            f"gunicorn graceful_timeout ({graceful} s) must be below covship-shim's "
            f"grace ({grace_s:g} s, COVSHIP_GRACE): lower GUNICORN_GRACEFUL_TIMEOUT or "
            f"raise COVSHIP_GRACE (and the container's stop timeout above it)"
        )
