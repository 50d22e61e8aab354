"""The course's support package: in-kernel servers, checks for test cells, plots, build and grading tools.

Notebooks import what they need from here so that the code a learner reads in a
notebook is the lesson, and the support code lives in one place.
"""

from autograder.checks import (CheckFailed, call, expect, expect_equal, expect_raises, not_written, quietly, short,
                               within)
from autograder.links import human_url
from autograder.server import Server, ServerError, running_servers, serve, stop_all
from autograder.sockets import SocketServer, run_socket_server
from autograder.timeline import Timeline

__version__ = "0.1.0"

__all__ = [
    "CheckFailed",
    "Server",
    "ServerError",
    "SocketServer",
    "Timeline",
    "call",
    "expect",
    "expect_equal",
    "expect_raises",
    "human_url",
    "not_written",
    "quietly",
    "run_socket_server",
    "running_servers",
    "serve",
    "short",
    "stop_all",
    "within",
]
