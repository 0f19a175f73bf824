"""The platform's composition root and development tooling (not the common library).

- ``gunma.cli``: the administrators' ``gunma`` command (migrations, seed, tokens, each service's commands);
- ``gunma.platform``: what ``make run`` starts, and keeps running;
- ``gunma.stack`` / ``gunma.embedded``: where PostgreSQL and Redis come from (``DATABASE_URL``/``REDIS_URL``,
  or real embedded servers under ``.data/``, which need the ``embedded`` extra);
- ``gunma.seeding``: runs the three services' seeds; ``gunma.migrate``: Alembic, programmatically;
- ``gunma.settings_doc``: generates ``.env.example`` from the settings classes.

This package imports the services; ``shared/`` (the library every service imports at run time)
never imports a service, and no service imports another (``.importlinter``, checked by ``make lint``).
"""
