"""The community portal for guardians, students and staff: activation, login, password reset, settings."""
