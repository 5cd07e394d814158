#!/usr/bin/env bash
# What editing and growing the conformance spec costs at build time.
#
#  1. Incremental `cargo test -p user-engine-tests --no-run` after touching one scenario YAML,
#     against the same after touching one Rust test file (tests/it/reference.rs). Target: the YAML
#     edit costs at most 1.5x the Rust edit.
#  2. Build and run time of a suite of 1,000 generated scenarios against the current one (~50),
#     through a throwaway crate's `conformance_suite! { factory: ..., spec: "..." }` pointed at a
#     generated spec root (a copy of conformance-spec/ with scenarios/ and snapshots/, the copies
#     given new ids). Target: no worse than linear, i.e. time per scenario at 1,000 no higher than
#     at ~50.
#
# Everything happens in a temporary directory: a snapshot of the workspace sources (tracked and
# untracked, as `git ls-files` sees them) built with its own CARGO_TARGET_DIR. The repository's
# files and the shared target dir are never touched, and no other build's lock is waited on
# inside a measurement. Timings are still noisy when other builds share the cores, so each figure
# is a median of REPS interleaved repetitions and the load average is printed alongside.
#
# Usage: bench/build-cost.sh [REPS]     (default 3; KEEP=1 keeps the temporary directory)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
REPS=${1:-3}
SCALE=1000
YAML_REL=conformance-spec/scenarios/records/save_and_get_round_trip.yaml
RUST_REL=tests/it/reference.rs

WORK=$(mktemp -d -t user-engine-build-cost.XXXXXX)
cleanup() {
    if [ "${KEEP:-0}" = 1 ]; then
        echo "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

export CARGO_TARGET_DIR="$WORK/target"
export CARGO_TERM_COLOR=never
# A test that panics on purpose would otherwise resolve a backtrace, which costs more than the
# scenario itself; cargo's default is no backtrace.
export RUST_BACKTRACE=0
WS="$WORK/ws"

now() { date +%s.%N; }
# seconds elapsed since $1, three decimals
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
# median of the numbers given as arguments
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
per() { awk -v t="$1" -v n="$2" 'BEGIN { printf "%.1f", 1000 * t / n }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
# Runs a command quietly, timing it; prints the seconds. Shows the output if it fails.
timed() {
    local start log
    start=$(now)
    log="$WORK/last.log"
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        echo "failed: $*" >&2
        exit 1
    fi
    since "$start"
}

echo "build-cost: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); load $(load)"
echo "workspace snapshot of $REPO in $WS (CARGO_TARGET_DIR=$CARGO_TARGET_DIR), $REPS repetitions"

mkdir -p "$WS"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard) |
    (cd "$REPO" && tar --null --ignore-failed-read -T - -cf - 2>/dev/null) |
    tar -xf - -C "$WS"

# ---------------------------------------------------------------------------------------------
# 1. One YAML edit against one Rust edit.
cd "$WS"
cold=$(timed cargo test -p user-engine-tests --no-run)
echo "cold build of user-engine-tests (untimed in the ratios): ${cold}s"
timed cargo test -p user-engine-tests --no-run >/dev/null # settles build-script reruns

yaml_times=()
rust_times=()
for rep in $(seq 1 "$REPS"); do
    # Alternate the order, so a slow spell does not always land on the same side.
    for side in $([ $((rep % 2)) = 1 ] && echo "yaml rust" || echo "rust yaml"); do
        if [ "$side" = yaml ]; then
            touch "$YAML_REL"
            yaml_times+=("$(timed cargo test -p user-engine-tests --no-run)")
        else
            touch "$RUST_REL"
            rust_times+=("$(timed cargo test -p user-engine-tests --no-run)")
        fi
    done
done
yaml=$(median "${yaml_times[@]}")
rust=$(median "${rust_times[@]}")
edit_ratio=$(ratio "$yaml" "$rust")
edit_verdict=$(awk -v r="$edit_ratio" 'BEGIN { print (r <= 1.5 ? "holds" : "MISSED") }')
echo
echo "incremental cargo test -p user-engine-tests --no-run (median of $REPS; load $(load)):"
echo "  after touching $YAML_REL: ${yaml}s  (samples: ${yaml_times[*]})"
echo "  after touching $RUST_REL: ${rust}s  (samples: ${rust_times[*]})"
echo "  ratio yaml / rust: ${edit_ratio}x — target <= 1.5x: $edit_verdict"
# What a YAML touch rebuilds: the crates cargo reports compiling.
touch "$YAML_REL"
echo "  a YAML touch recompiles: $(cargo test -p user-engine-tests --no-run 2>&1 | awk '/Compiling/ { printf "%s%s", sep, $2; sep = ", " }')"
touch "$RUST_REL"
echo "  a Rust touch recompiles: $(cargo test -p user-engine-tests --no-run 2>&1 | awk '/Compiling/ { printf "%s%s", sep, $2; sep = ", " }')"

# ---------------------------------------------------------------------------------------------
# 2. The current spec against 1,000 scenarios.
SPEC_SRC="$WS/conformance-spec"
mkdir -p "$WORK/spec-current" "$WORK/spec-$SCALE"
cp -R "$SPEC_SRC/scenarios" "$SPEC_SRC/snapshots" "$WORK/spec-current/"
cp -R "$SPEC_SRC/scenarios" "$SPEC_SRC/snapshots" "$WORK/spec-$SCALE/"
current=$(find "$WORK/spec-current/scenarios" -name '*.yaml' | wc -l)
mapfile -t originals < <(cd "$SPEC_SRC" && find scenarios -name '*.yaml' | sort)
count=$current
copy=0
while [ "$count" -lt "$SCALE" ]; do
    copy=$((copy + 1))
    for file in "${originals[@]}"; do
        [ "$count" -ge "$SCALE" ] && break
        rel=${file#scenarios/}
        area=${rel%%/*}
        name=$(basename "$rel" .yaml)
        new="${name}_copy$copy"
        sed "s|^id: $area/$name\$|id: $area/$new|" "$SPEC_SRC/$file" >"$WORK/spec-$SCALE/scenarios/$area/$new.yaml"
        grep -q "^id: $area/$new\$" "$WORK/spec-$SCALE/scenarios/$area/$new.yaml" || {
            echo "could not give $file a new id" >&2
            exit 1
        }
        # Canonical snapshots are named after the scenario: <area>__<name>[-N].snap.
        for snap in "$SPEC_SRC/snapshots/${area}__${name}.snap" "$SPEC_SRC/snapshots/${area}__${name}"-*.snap; do
            [ -f "$snap" ] || continue
            base=$(basename "$snap")
            cp "$snap" "$WORK/spec-$SCALE/snapshots/${area}__${new}${base#"${area}__${name}"}"
        done
        count=$((count + 1))
    done
done

SUITE="$WORK/suite"
mkdir -p "$SUITE/tests"
cat >"$SUITE/Cargo.toml" <<EOF
[package]
name = "user-engine-suite-scale"
version = "0.0.0"
edition = "2024"
publish = false

[dev-dependencies]
user-engine = { path = "$WS/engine", features = ["conformance"] }

[[test]]
name = "scale"
path = "tests/scale.rs"

# Not a member of the snapshot workspace: a throwaway crate of its own.
[workspace]
EOF
cp "$WS/Cargo.lock" "$SUITE/Cargo.lock"
point_at() {
    cat >"$SUITE/tests/scale.rs" <<EOF
//! The conformance suite over a generated spec root ($1 scenarios).
user_engine::conformance_suite! {
    factory: user_engine::InMemoryUserEngineStore::new,
    capabilities: [migration_tamper, concurrent_transactions],
    spec: "../spec-$2",
}
EOF
}
test_binary() {
    cargo test --manifest-path "$SUITE/Cargo.toml" --no-run --message-format=json 2>/dev/null |
        grep -o '"executable":"[^"]*"' | tail -1 | sed 's/"executable":"\(.*\)"/\1/'
}

point_at "$current" current
timed cargo test --manifest-path "$SUITE/Cargo.toml" --no-run >/dev/null # dependencies, untimed

declare -A build_times run_times outcome
for rep in $(seq 1 "$REPS"); do
    for size in $([ $((rep % 2)) = 1 ] && echo "current $SCALE" || echo "$SCALE current"); do
        n=$([ "$size" = current ] && echo "$current" || echo "$SCALE")
        point_at "$n" "$size"
        build_times[$size]+="$(timed cargo test --manifest-path "$SUITE/Cargo.toml" --no-run) "
        exe=$(test_binary)
        start=$(now)
        # A failing scenario still costs its run time; it is reported below, not fatal here.
        "$exe" -q >"$WORK/run.log" 2>&1 || true
        run_times[$size]+="$(since "$start") "
        result=$(grep 'test result:' "$WORK/run.log" | tail -1)
        passed=$(awk '{ print $4 }' <<<"$result")
        failed=$(awk '{ print $6 }' <<<"$result")
        ignored=$(awk '{ print $8 }' <<<"$result")
        [ -n "$result" ] && [ $((passed + failed + ignored)) = "$n" ] || {
            tail -30 "$WORK/run.log" >&2
            echo "expected $n tests from the $n-scenario suite; saw: ${result:-no test result}" >&2
            exit 1
        }
        outcome[$size]="$passed passed, $failed failed, $ignored ignored"
    done
done

# shellcheck disable=SC2086 # word splitting of the sample lists is intended
{
    b_cur=$(median ${build_times[current]})
    b_big=$(median ${build_times[$SCALE]})
    r_cur=$(median ${run_times[current]})
    r_big=$(median ${run_times[$SCALE]})
}
t_cur=$(awk -v a="$b_cur" -v b="$r_cur" 'BEGIN { printf "%.3f", a + b }')
t_big=$(awk -v a="$b_big" -v b="$r_big" 'BEGIN { printf "%.3f", a + b }')
growth=$(ratio "$t_big" "$t_cur")
size_ratio=$(ratio "$SCALE" "$current")
marginal=$(awk -v a="$t_cur" -v b="$t_big" -v n="$current" -v m="$SCALE" 'BEGIN { printf "%.1f", 1000 * (b - a) / (m - n) }')
linear_verdict=$(awk -v g="$growth" -v s="$size_ratio" 'BEGIN { print (g <= s ? "holds (no worse than linear)" : "MISSED (worse than linear)") }')
echo
echo "suite size (in-memory factory; build = incremental cargo test --no-run of the throwaway crate after pointing it at the spec; run = the test binary, default threads; median of $REPS; load $(load)):"
printf '  %5s scenarios: build %7ss  run %6ss  total %7ss  = %6s ms/scenario (build %s, run %s)\n' \
    "$current" "$b_cur" "$r_cur" "$t_cur" "$(per "$t_cur" "$current")" "$(per "$b_cur" "$current")" "$(per "$r_cur" "$current")"
printf '  %5s scenarios: build %7ss  run %6ss  total %7ss  = %6s ms/scenario (build %s, run %s)\n' \
    "$SCALE" "$b_big" "$r_big" "$t_big" "$(per "$t_big" "$SCALE")" "$(per "$b_big" "$SCALE")" "$(per "$r_big" "$SCALE")"
echo "  samples: build ${build_times[current]}/ ${build_times[$SCALE]}; run ${run_times[current]}/ ${run_times[$SCALE]}"
echo "  outcomes: $current scenarios: ${outcome[current]}; $SCALE scenarios: ${outcome[$SCALE]}"
if [[ "${outcome[current]}${outcome[$SCALE]}" != *" 0 failed"*" 0 failed"* ]]; then
    echo "  note: failing scenarios come from the workspace snapshot (work in progress); their time is counted all the same"
fi
echo "  ${size_ratio}x the scenarios cost ${growth}x the time; each added scenario costs ${marginal} ms — $linear_verdict"
