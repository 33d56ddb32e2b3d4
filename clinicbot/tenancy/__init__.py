"""Many clinics on one deployment (issue #16).

- :mod:`clinicbot.tenancy.secrets`: the clinics' secrets encrypted at rest (Fernet).
- :mod:`clinicbot.tenancy.registry`: clinics as data (the ``clinics`` table); clinic 1 is the
  default clinic, configured by the environment as before.
- :mod:`clinicbot.tenancy.scope`: the one way a query acts for a clinic (ORM criteria plus
  PostgreSQL's row-level security setting).
- :mod:`clinicbot.tenancy.senders`: Rasa sender ids namespaced per clinic.
- :mod:`clinicbot.tenancy.jobs`: the scheduler's jobs (alerts included) run per clinic.
- :mod:`clinicbot.tenancy.clinic_data`: one clinic's data exported or erased.
- :mod:`clinicbot.tenancy.cli`: ``python -m clinicbot.cli clinics add|list|show|disable|…``.

Staff requests act for their token's clinic through :mod:`clinicbot.web.staff_auth`.
"""

DEFAULT_CLINIC_ID = 1
