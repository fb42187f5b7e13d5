"""Treatment courses, sessions, preparations, injection logs, signatures and amendments."""
