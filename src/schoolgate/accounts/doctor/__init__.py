"""The account doctor: why can't this person log in, or see this child?

One diagnosis walks the whole chain — the person record, the login's state, lockout, usernames, the link to the
student, the portal flag and the rule clause that set it, overrides, per-student sections, duplicate and
superseded records, bounced welcome e-mails — and every finding proposes a concrete fix. Fixes that are
transitions (provision, resend, revoke, transfer, merge, unlock) can be applied from the doctor; the others
say exactly what to change where.
"""

from schoolgate.accounts.doctor.diagnose import Report, diagnose
from schoolgate.accounts.doctor.fixes import FixRejected, apply_fix
from schoolgate.accounts.doctor.model import Finding, Fix

__all__ = ["Finding", "Fix", "FixRejected", "Report", "apply_fix", "diagnose"]
