# Sourced by the guest e2e scripts run from the repository root: "OK <step>"
# per verified step (and the elapsed time on stderr), "FAIL <why>" with the
# tail of the daemon log $LOG, and exit 1, on the first failed check.
fail() { echo "FAIL $*"; [ -f "${LOG:-}" ] && tail -n 20 "$LOG" | sed 's/^/  log: /'; exit 1; }
ok() { echo "OK $*"; echo "[$SECONDS s] $1" >&2; }
