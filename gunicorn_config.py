"""How gunicorn serves the clinic, in one place: ``make run`` (``-c gunicorn_config.py``), the browser
tests' live server, tests/test_serving.py and bench/crash.py read this file; an installed distribution
ships it as a module (``gunicorn -c python:gunicorn_config``). The bind address and the number of workers
are given on each command line.
"""

# Threaded workers: a sync worker reads one connection at a time, so an idle keep-alive or speculative
# connection that a browser opens and never uses holds the whole worker until its 30 s timeout kills it,
# and every request queued behind it waits. A gthread worker parks idle connections on its poller and
# hands a thread only to a connection that sends a request.
worker_class = "gthread"
# Four threads a worker: enough to overlap the waits on the database and on slow clients on a 2-core
# machine without more threads fighting over the GIL, and within SQLAlchemy's pool of 5 connections per
# process, so a thread never waits for a connection.
threads = 4

accesslog = "-"
# The access log names the path, never the query string: a patient search (?q=name) must not land in it.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss'
