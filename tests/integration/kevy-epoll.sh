#!/bin/sh
# Runs kevy-server ($KEVY_REAL_SERVER) with the epoll reactor, so that the
# integration tests registered as *.epoll exercise the fallback reactor with
# the same assertions as the io_uring runs.
exec "$KEVY_REAL_SERVER" "$@" --io epoll
