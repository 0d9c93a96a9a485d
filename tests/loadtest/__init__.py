"""Load-test helpers: a gunicorn launcher on a free loopback port and a
multi-process HTTP client (standard library only). Used by tests/test_load.py."""
