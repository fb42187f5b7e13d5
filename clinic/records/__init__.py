"""Clinical records: patients, screening, consent, courses, sessions and follow-ups.

The record mechanics they are built on (void, optimistic locking, the lock
guard, automatic audit) live in :mod:`clinic.core` and :mod:`clinic.audit`.
"""
