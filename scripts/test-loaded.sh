#!/usr/bin/env bash
# Runs the tests with every core busy, to show that none of them depends on
# the machine being fast: ctest of the normal build and the core tests
# under ThreadSanitizer (configured like the tsan-core stage of
# scripts/test.sh), while `stress-ng --cpu <cores>` keeps the CPUs at 100%.
#
# Usage: scripts/test-loaded.sh [--runs N] [--baseline] [--no-build]
#   --runs N     loaded runs, one after another (default 3)
#   --baseline   first run each part once on the quiet machine, for its time
#   --no-build   use the builds as they are (default: build both first,
#                before the load starts)
# Environment: BUILD_DIR (default build), TSAN_BUILD_DIR (default
# build-tsan), PART_TIMEOUT (seconds one part may take, default 2400),
# LOG_DIR (default: a new temporary folder).
#
# Prints, per run, how long each part took and whether it passed, and ends
# with the line "N passed, M failed" (runs); exits 0 when every run passed.
# Installs stress-ng (Debian) if missing. stress-ng is stopped on exit, and
# is started with its own timeout besides, so it cannot outlive the script.
set -uo pipefail
cd "$(dirname "$0")/.."

runs=3
baseline=0
build=1
while (($#)); do
  case $1 in
    --runs)
      runs=${2:-}
      shift 2 || { echo "--runs needs a number" >&2; exit 2; }
      ;;
    --runs=*) runs=${1#--runs=}; shift ;;
    --baseline) baseline=1; shift ;;
    --no-build) build=0; shift ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
if ! [[ $runs =~ ^[1-9][0-9]*$ ]]; then
  echo "--runs: \"$runs\" is not a number of runs (1 or more)" >&2
  exit 2
fi

build_dir=${BUILD_DIR:-build}
tsan_dir=${TSAN_BUILD_DIR:-build-tsan}
part_timeout=${PART_TIMEOUT:-2400}
log_dir=${LOG_DIR:-$(mktemp -d /tmp/test-loaded.XXXXXX)}
mkdir -p "$log_dir"
cores=$(nproc)

# Sanitizer reports with symbols when llvm's symbolizer is there (as in
# scripts/test.sh).
symbolizer=$(ls /usr/bin/llvm-symbolizer-* 2>/dev/null | sort -V | tail -1)
export TSAN_OPTIONS=${TSAN_OPTIONS:-"halt_on_error=1 second_deadlock_stack=1${symbolizer:+ external_symbolizer_path=$symbolizer}"}

# --- stress-ng: installed if the package is not (a command of that name
# elsewhere, a function or an alias would not do).
stress_installed() {
  [[ $(dpkg-query -W -f='${Status}' stress-ng 2>/dev/null) == "install ok installed" ]]
}
if ! stress_installed; then
  echo "test-loaded: installing stress-ng (Debian package)" >&2
  sudo=""
  if ((EUID != 0)); then sudo="sudo"; fi
  # Another apt may be running on the same machine: wait for its locks.
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get \
      -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
      stress-ng >/dev/null
  if ! stress_installed; then
    echo "test-loaded: could not install stress-ng (apt-get failed)" >&2
    exit 1
  fi
fi
stress_ng=$(dpkg-query -L stress-ng | grep -m1 '/bin/stress-ng$')

# --- builds, on the quiet machine.
if ((build)); then
  echo "test-loaded: building $build_dir and $tsan_dir (logs in $log_dir)" >&2
  if ! BUILD_DIR=$build_dir bash scripts/build.sh >"$log_dir/build.log" 2>&1; then
    tail -n 30 "$log_dir/build.log" >&2
    echo "test-loaded: the build of $build_dir failed" >&2
    exit 1
  fi
  if ! { cmake -S . -B "$tsan_dir" -G Ninja -DJOBGROUP_CORE_ONLY=ON \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
      -DCMAKE_CXX_FLAGS="-fsanitize=thread -g" >/dev/null &&
      cmake --build "$tsan_dir" -j "$cores"; } >"$log_dir/build-tsan.log" 2>&1; then
    tail -n 30 "$log_dir/build-tsan.log" >&2
    echo "test-loaded: the ThreadSanitizer build of $tsan_dir failed" >&2
    exit 1
  fi
fi
for dir in "$build_dir" "$tsan_dir"; do
  if [[ ! -f $dir/CTestTestfile.cmake ]]; then
    echo "test-loaded: $dir has no tests (build it, or drop --no-build)" >&2
    exit 1
  fi
done

# --- the load.
stress_pid=""
stop_stress() {
  if [[ -n $stress_pid ]]; then
    kill -TERM "$stress_pid" 2>/dev/null
    wait "$stress_pid" 2>/dev/null
    stress_pid=""
  fi
}
trap stop_stress EXIT
trap 'stop_stress; exit 130' INT TERM
start_stress() {
  # Its own timeout is a backstop should this script be killed outright:
  # every part may take PART_TIMEOUT, and a run has two.
  local budget=$(((2 * runs + 2) * part_timeout))
  "$stress_ng" --cpu "$cores" --timeout "${budget}s" --quiet &
  stress_pid=$!
  sleep 5  # Let the load average climb a little, and the hogs settle.
  if ! kill -0 "$stress_pid" 2>/dev/null; then
    echo "test-loaded: stress-ng did not start" >&2
    exit 1
  fi
}

# --- the parts. Each writes its log to $log_dir and prints one line.
part_ok=0
part_seconds=0
run_part() {  # run_part NAME LOG COMMAND...
  local name=$1 log=$2
  shift 2
  local start=$SECONDS
  timeout --kill-after=30 "$part_timeout" "$@" >"$log" 2>&1
  local status=$?
  part_seconds=$((SECONDS - start))
  if ((status == 0)); then
    part_ok=1
  else
    part_ok=0
    if ((status == 124 || status == 137)); then
      echo "    $name: timed out after ${part_timeout}s" >&2
    fi
    # ctest's own summary of what failed, and the end of the log.
    sed -n '/tests failed out of/,$p' "$log" >&2
    echo "    --- last lines of $log:" >&2
    tail -n 40 "$log" | sed 's/^/    /' >&2
  fi
}
load_now() { cut -d' ' -f1-3 /proc/loadavg; }

ctest_part() {  # ctest_part LOG
  run_part ctest "$1" ctest --test-dir "$build_dir" --output-on-failure -j 2 \
    --timeout 300
}
tsan_part() {  # tsan_part LOG
  run_part tsan-core "$1" ctest --test-dir "$tsan_dir" --output-on-failure \
    --timeout 600
}
verdict() { if ((part_ok)); then echo ok; else echo FAILED; fi; }

if ((baseline)); then
  ctest_part "$log_dir/quiet-ctest.log"
  line="quiet:    ctest ${part_seconds}s $(verdict)"
  tsan_part "$log_dir/quiet-tsan-core.log"
  echo "$line, tsan-core ${part_seconds}s $(verdict) (load $(load_now))"
fi

start_stress
echo "test-loaded: $cores CPU hogs (stress-ng --cpu $cores); logs in $log_dir"
passed=0
failed=0
for ((run = 1; run <= runs; run++)); do
  ctest_part "$log_dir/run$run-ctest.log"
  ctest_ok=$part_ok
  line="run $run/$runs: ctest ${part_seconds}s $(verdict)"
  tsan_part "$log_dir/run$run-tsan-core.log"
  echo "$line, tsan-core ${part_seconds}s $(verdict) (load $(load_now))"
  if ((ctest_ok && part_ok)); then ((passed++)); else ((failed++)); fi
done
stop_stress
echo "$passed passed, $failed failed"
((failed == 0))
