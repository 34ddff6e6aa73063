"""octractl's exit codes (documented in the README and `octractl --help`)."""

OK = 0
DAEMON_ERROR = 1  # the daemon answered with an error
USAGE = 2  # bad command line, or protocol version mismatch
UNREACHABLE = 3  # no daemon answers (and it could not be started)
WAITING = 4  # the task waits for you (plan approval or an answer)
