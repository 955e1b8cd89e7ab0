"""The fleet's services: what the API routes (``fleet/api``) and the dashboard pages
(``fleet/web``) both call, so a page shows exactly what the API answers.

Each function takes the database session, the fleet context where it needs the clock, the
publisher or the settings, and plain arguments (the caller's name as ``actor`` for what is
audited). Who may call is decided before (``fleet/api/deps.py``, ``fleet/web/access.py``). A
function raises the fleet's typed errors (``fleet/errors.py``), never HTTP errors: one handler
(``fleet/api/error_handler.py``) turns them into the API's statuses and the dashboard's error
pages. Functions return the public views of ``fleet/api/*_schemas.py``, what both show.
"""
