"""District admins: roles and the one authorization layer, the Primary admin, invitations, MFA, API tokens,
and the platform operator."""
