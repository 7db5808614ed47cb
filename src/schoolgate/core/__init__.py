"""Districts and schools, the audit log, and the district-scoped helpers every other app builds on."""
