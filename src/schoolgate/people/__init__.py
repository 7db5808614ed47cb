"""People mirrored from the SIS (students, contacts, staff), their links, and the eligibility rules."""
