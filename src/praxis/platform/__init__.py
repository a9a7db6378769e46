"""The kernel: knows no domain. Settings, database, tenancy, context, permissions, audit, crypto."""
