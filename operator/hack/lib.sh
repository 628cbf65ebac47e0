# Sourced by the scripts beside it.

# cache is outside the checkout, so fresh clones (CI) reuse what was built.
cache=${MULTINIC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/multinic}

# lock FILE WHAT: holds FILE until the script exits, so that concurrent test
# binaries on a fresh machine install or build once while the others wait,
# and says so when it has to wait.
lock() {
  local file=$1 what=$2
  if command -v flock >/dev/null; then
    exec 9>"$file"
    flock -n 9 && return 0
    echo "$what: waiting for another process that holds $file (it is installing or building; its progress is in its own output)..." >&2
    flock 9
    echo "$what: lock released, continuing" >&2
  else # macOS has no flock(1); mkdir is atomic
    local said=
    until mkdir "$file.d" 2>/dev/null; do
      [ -n "$said" ] || echo "$what: waiting for another process that holds $file.d (remove it if no such process runs)..." >&2
      said=1
      sleep 1
    done
    trap 'rmdir "'"$file.d"'"' EXIT
  fi
}
