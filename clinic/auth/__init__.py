"""Accounts, roles, sign-in, second factor and account administration."""
