"""A test that binds fixed ports, or must not reach any name server but
its own, runs in a network namespace of its own: only lo, up.

    import netns
    netns.enter()       # first thing: the script starts again inside
"""
import os
import sys


def enter():
    if os.environ.get("OSMS_NETNS") == "1":
        return
    env = dict(os.environ, OSMS_NETNS="1")
    os.execvpe("unshare", ["unshare", "--net", "--", "sh", "-c",
                           'ip link set lo up && exec "$0" "$@"',
                           sys.executable] + sys.argv, env)
