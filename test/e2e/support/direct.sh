# Shell helpers of the 1:1 layout's guest scripts (direct-fiemap-guest.sh,
# direct-grow-guest.sh): ok from steps.sh, a fail of their own. The caller
# sets CLI (the ublk-compress argv) and W (its work directory, holding one log
# per device) before sourcing.

# shellcheck source=steps.sh
. test/e2e/support/steps.sh  # ok

# fail WHY: "FAIL WHY" on stdout and stderr (a check inside $(...) would
# otherwise lose its line), the newest log's tail, exit 1.
fail() {
  local log
  echo "FAIL $*"
  echo "FAIL $*" >&2
  log=$(ls -t "$W"/*.log 2>/dev/null | head -1)
  [ -n "$log" ] && tail -n 20 "$log" | sed 's/^/  log: /' >&2
  exit 1
}

# add NAME BACKING [ARGS...]: starts a 1:1 device, prints its path; its log is $W/NAME.log.
add() {
  local name=$1 backing=$2
  shift 2
  "${CLI[@]}" add --backing "$backing" --layout direct --log "$W/$name.log" "$@" 2>"$W/$name.err" || fail "add $name: $(cat "$W/$name.err")"
}
