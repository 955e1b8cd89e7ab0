"""Admin access: users and roles, argon2 passwords, web sessions with CSRF tokens, API tokens,
and the brakes on password guessing. The API's ``current_principal`` (fleet/api/deps.py) is
built on these; every change is written to the audit log in the same transaction."""
