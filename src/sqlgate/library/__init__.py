"""What users save and schedule: saved questions and queries, dashboards; workflows next.

This package sits above ``services`` and ``jobs`` (and below ``api`` and the CLI): it uses the
translation in :mod:`sqlgate.services.nl`, and it runs queries only through the query service
(:class:`sqlgate.services.query.QueryService`, or the job service for long runs), never an engine
directly, so every guard, limit, policy and audit row that holds for SQL a user sends holds for
what is saved and scheduled too. Nothing below this package imports it.
"""
