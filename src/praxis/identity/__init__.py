"""Users, sessions, MFA, API clients, roles and grants."""
