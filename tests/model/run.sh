#!/usr/bin/env bash
# Run the SPIN models of the lease protocols (see README.md in this directory).
#
#   bash tests/model/run.sh [MODEL]      MODEL = disk_paxos | leader | delta_lease | timing | handoff | receive | volset | pr_fence | caw
#
# Every run: spin -a with the run's -D flags, gcc -O2 pan.c, ./pan, all in a
# private temp dir (pan.*, *.trail never land in the source tree).  A run's verdict
# comes from pan's "errors: N" line:
#   model    a correct model: errors: 0, a complete search (no depth or memory
#            truncation), and at least MIN states stored -- else FAIL
#   mutant   a seeded bug: SPIN must find it (errors > 0) -- else FAIL
#   reach    vacuity check: an assert(false)-style probe at the event the
#            property is about; SPIN must reach it (errors > 0) -- else FAIL
#   sweep    a parameter point with a declared expectation (pass/fail)
#   finding  documents a hole in docs/algorithms.md: expected to fail as written
#   fix      the proposed remedy for a finding: must pass like a model
# Exit status: 0 if every run met its expectation, 1 otherwise, 2 on usage errors.
# Environment: SM_MODEL_JOBS (parallel runs, default nproc capped at 2),
# SM_MODEL_MEMLIM (MiB for one pan, default 4096; the largest run needs ~1 GiB),
# SM_MODEL_KEEP=1 keeps the temp dir (it is also kept when a run is unexpected).

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
only=${1:-}
memlim=${SM_MODEL_MEMLIM:-4096}

case "$only" in
  ""|disk_paxos|leader|delta_lease|timing|handoff|receive|volset|pr_fence|caw) ;;
  -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
  *) echo "usage: $0 [disk_paxos|leader|delta_lease|timing|handoff|receive|volset|pr_fence|caw]" >&2; exit 2 ;;
esac
for tool in spin gcc; do
  command -v "$tool" >/dev/null 2>&1 || { echo "run.sh: $tool not found" >&2; exit 2; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sm-model.XXXXXX") || exit 2
keep=${SM_MODEL_KEEP:-0}
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() { if [ "$keep" = 1 ]; then echo "temp dir kept: $tmp"; else rm -rf "$tmp"; fi; }
trap cleanup EXIT

# model | variant | kind | expect (pass/fail) | min states | spin -D flags | pan flags
runs=(
  # ---- Disk Paxos agreement: 1 disk, 3 disks with a lost and a slow disk, crashes
  "disk_paxos|2h-1d|model|pass|100000|-DNH=2 -DND=1 -DKMAX=3 -DCRASHES=2|"
  "disk_paxos|3h-1d|model|pass|1000000|-DNH=3 -DND=1 -DKMAX=2 -DCRASHES=2|"
  "disk_paxos|2h-3d|model|pass|1000000|-DNH=2 -DND=3 -DKMAX=2 -DCRASHES=1|"
  "disk_paxos|reach:two-decide|reach|fail|0|-DNH=2 -DND=1 -DREACH=1|"
  "disk_paxos|reach:adopted-3d|reach|fail|0|-DNH=2 -DND=3 -DREACH=2|"
  "disk_paxos|m1:no-phase2-abort|mutant|fail|0|-DNH=2 -DND=1 -DKMAX=3 -DCRASHES=2 -DMUTANT=1|"
  "disk_paxos|m1:no-phase2-abort-3h|mutant|fail|0|-DNH=3 -DND=1 -DKMAX=2 -DCRASHES=2 -DMUTANT=1|"
  "disk_paxos|m2:no-adopt|mutant|fail|0|-DNH=2 -DND=1 -DKMAX=3 -DCRASHES=2 -DMUTANT=2|"
  "disk_paxos|m3:w1-drops-bal|mutant|fail|0|-DNH=2 -DND=1 -DKMAX=3 -DCRASHES=2 -DMUTANT=3|"
  "disk_paxos|m4:minority-disks|mutant|fail|0|-DNH=2 -DND=3 -DKMAX=2 -DCRASHES=1 -DMUTANT=4|"
  "disk_paxos|m5:recover-first-copy|mutant|fail|0|-DNH=2 -DND=3 -DKMAX=2 -DCRASHES=1 -DNO_DISK_LOSS -DMUTANT=5|"
  # lingering writes: an abandoned dblock write lands at any later moment
  "disk_paxos|2h-1d-late|model|pass|1000000|-DNH=2 -DND=1 -DKMAX=3 -DCRASHES=1 -DLATE|"
  "disk_paxos|m6:write-over-pending|mutant|fail|0|-DNH=2 -DND=1 -DKMAX=3 -DCRASHES=1 -DLATE -DMUTANT=6|"
  "disk_paxos|m6-without-late-writes|sweep|pass|10000|-DNH=2 -DND=1 -DKMAX=3 -DCRASHES=1 -DMUTANT=6|"

  # ---- the leader record, release markers, late (hung or slow) leader writes
  "leader|2h-late|model|pass|1000000|-DNH=2 -DMAXV=3|"
  "leader|reach:late-write-lands-over-newer|reach|fail|0|-DNH=2 -DREACH=1|"
  "leader|reach:release-through-stale-leader|reach|fail|0|-DNH=2 -DREACH=2|"
  "leader|m1:release-trusts-leader(old code)|mutant|fail|0|-DNH=2 -DMUTANT=1|"
  "leader|m2:no-release-marker|mutant|fail|0|-DNH=2 -DMUTANT=2|"
  "leader|m3:acts-on-superseded-leader|mutant|fail|0|-DNH=2 -DMUTANT=3|"
  "leader|m4:marker-before-stopping|mutant|fail|0|-DNH=2 -DMUTANT=4|"
  "leader|m5:no-restore-after-phase-1|mutant|fail|0|-DNH=2 -DMUTANT=5|"
  "leader|reach:restores-a-lost-leader|reach|fail|0|-DNH=2 -DREACH=3|"

  # ---- delta leases: join race, renew verification
  "delta_lease|2h|model|pass|10000|-DNH=2|-E"
  "delta_lease|3h|model|pass|100000|-DNH=3|-E"
  "delta_lease|2h-stall:P2|model|pass|10000|-DNH=2 -DSTALL=6 -DCHECK_P1=0|-E"
  "delta_lease|reach:all-claims-one-owner|reach|fail|0|-DNH=3 -DREACH=1|-E"
  "delta_lease|m1:no-wait|mutant|fail|0|-DNH=2 -DMUTANT=1|-E"
  "delta_lease|m2:no-reread|mutant|fail|0|-DNH=2 -DMUTANT=2|-E"
  "delta_lease|m3:renew-no-verify|mutant|fail|0|-DNH=2 -DSTALL=6 -DCHECK_P1=0 -DMUTANT=3|-E"
  "delta_lease|m4:wait-d|mutant|fail|0|-DNH=2 -DMUTANT=4|-E"
  "delta_lease|finding:wait-exactly-2d|finding|fail|0|-DNH=2 -DWAIT=4|-E"
  "delta_lease|finding:stalled-claimant|finding|fail|0|-DNH=2 -DSTALL=6|-E"
  "delta_lease|fix:stall+latecheck|fix|pass|10000|-DNH=2 -DSTALL=6 -DLATECHECK=1|-E"

  # ---- timing rule for H (F=4, W=3 ticks, I/O <= D=1 tick)
  "timing|H=7(F+W)|model|pass|10000|-DF=4 -DW=3 -DH=7|-E"
  "timing|H=7,D=3(=W)|model|pass|10000|-DF=4 -DW=3 -DH=7 -DD=3|-E"
  "timing|H=6(F+W-1)|sweep|fail|0|-DF=4 -DW=3 -DH=6|-E"
  "timing|H=5(F+W-2)|mutant|fail|0|-DF=4 -DW=3 -DH=5|-E"
  "timing|reach:takeover-at-death+1|reach|fail|0|-DF=4 -DW=3 -DH=7 -DREACH=1|-E"
  "timing|m1:deadline-from-completion|mutant|fail|0|-DF=4 -DW=3 -DH=7 -DMUTANT=1|-E"
  "timing|finding:late-renewal-revives|finding|fail|0|-DF=4 -DW=3 -DH=7 -DREVIVE|-E"
  "timing|finding:D=4(>W)|finding|fail|0|-DF=4 -DW=3 -DH=7 -DD=4|-E"
  "timing|fix:lastok=issue,revive,D=4|fix|pass|10000|-DF=4 -DW=3 -DH=7 -DD=4 -DREVIVE -DLASTOK_ISSUE -DNREN=2|-E"

  # ---- migration hand-off, only-at-version
  "handoff|S-D-T(NT=3)|model|pass|5000|-DNT=3|"
  "handoff|reach:D-resumes|reach|fail|0|-DREACH=1|"
  "handoff|reach:S-resumes|reach|fail|0|-DREACH=2|"
  "handoff|m1:D-no-version-check|mutant|fail|0|-DMUTANT=1|"
  "handoff|m2:S-no-version-check|mutant|fail|0|-DMUTANT=2|"
  "handoff|m3:lver-truncated|mutant|fail|0|-DMUTANT=3|"
  "handoff|finding:stale-W3+ours-shortcut|finding|fail|0|-DSTALE_LEADER|"
  "handoff|fix:no-shortcut-after-release|fix|pass|5000|-DSTALE_LEADER -DFIX_SHORTCUT=1 -DNT=3|"

  # ---- the seed's "receive lease": refreshed request, go_by, withdraw + settle (ticks; D=1, P=2: d < 500 ms)
  "receive|S-R-T(D=1,P=2)|model|pass|1000000|-DSEXIT=2|"
  "receive|S-R(read-errors)|model|pass|1000000|-DSEXIT=2 -DRERR -DNT=0|"
  "receive|reach:handed-over|reach|fail|0|-DSEXIT=2 -DREACH=1|"
  "receive|reach:given-up-then-received|reach|fail|0|-DSEXIT=2 -DREACH=2|"
  "receive|reach:takeover-from-dead-S|reach|fail|0|-DSEXIT=2 -DREACH=3|"
  "receive|m1:old-code(no-seq,no-recheck)|mutant|fail|0|-DSEXIT=2 -DMUTANT=1|"
  "receive|m2:no-recheck-after-withdraw|mutant|fail|0|-DSEXIT=2 -DMUTANT=2|"
  "receive|m3:no-go_by|mutant|fail|0|-DSEXIT=2 -DMUTANT=3|"
  "receive|m4:no-withdraw(read-errors)|mutant|fail|0|-DSEXIT=2 -DMUTANT=4 -DRERR -DNT=0|"
  "receive|finding:d=1s(>500ms)|finding|fail|0|-DSEXIT=2 -DD=2 -DP=1 -DNT=0|"
  "receive|finding:withdraw-fails+read-errors|finding|fail|0|-DSEXIT=2 -DFAILW -DRERR -DNT=0|"
  "receive|fix:settle-from-withdraw(d=500ms)|fix|pass|1000000|-DSEXIT=2 -DD=1 -DP=1 -DFIX_SETTLE=1 -DFAILW -DRERR -DNT=0|"

  # ---- volume set: delta leases on a majority of 3 members (d=1, R=2, F=3, W=1, H=4, J=3 ticks)
  "volset|takeover(crash,fixed-bad)|model|pass|1000000|-DTMAX=9 -DNSW=0|-E"
  "volset|switching-bad-paths|model|pass|1000000|-DTMAX=11 -DNCRASH=0 -DNSW=2 -DSLOW=0|-E"
  "volset|join-race|model|pass|100000|-DSCEN=2 -DNSW=0 -DNCRASH=0 -DTMAX=7|-E"
  "volset|join-race+stall|model|pass|1000000|-DSCEN=2 -DNSW=0 -DNCRASH=0 -DTMAX=7 -DSTALL=2|-E"
  "volset|reach:takeover-joins|reach|fail|0|-DTMAX=9 -DNSW=0 -DREACH=1|-E"
  "volset|reach:dead-by-common-window|reach|fail|0|-DTMAX=11 -DNSW=0 -DREACH=2|-E"
  "volset|reach:race-two-claims-one-joins|reach|fail|0|-DSCEN=2 -DNSW=0 -DNCRASH=0 -DTMAX=7 -DREACH=3|-E"
  "volset|reach:claim-on-one-member|reach|fail|0|-DSCEN=2 -DNSW=0 -DTMAX=7 -DREACH=4|-E"
  "volset|m1:VS_PER_MEMBER|mutant|fail|0|-DTMAX=11 -DNCRASH=0 -DNSW=2 -DSLOW=0 -DMUTANT=1|-E"
  "volset|m2:VS_ONE_MEMBER|mutant|fail|0|-DTMAX=9 -DNSW=0 -DMUTANT=2|-E"
  "volset|m3:VS_NO_2D|mutant|fail|0|-DSCEN=2 -DNSW=0 -DNCRASH=0 -DTMAX=7 -DSTALL=2 -DMUTANT=3|-E"
  "volset|finding:VS1-stray-claim-blocks|finding|fail|0|-DSCEN=3 -DNSW=0 -DLIVE=1 -DTMAX=10|-E"
  "volset|fix:VS1-lower-gen-quiet|fix|pass|1000|-DSCEN=3 -DNSW=0 -DLIVE=1 -DTMAX=10 -DFIX_LOWER=1|-E"
  "volset|fix:VS1,join-race|fix|pass|100000|-DSCEN=2 -DNSW=0 -DNCRASH=0 -DTMAX=7 -DFIX_LOWER=1|-E"

  # ---- fencing by SCSI persistent reservations (issue 13): no time, frozen holders, false suspicion
  "pr_fence|2h(MAXT=4)|model|pass|10000|-DNH=2 -DMAXT=4|"
  "pr_fence|3h(MAXT=3)|model|pass|1000000|-DNH=3 -DMAXT=3|"
  "pr_fence|fallback:preempt+wait|model|pass|10000|-DNH=2 -DMAXT=4 -DPR_FALLBACK_WAIT|"
  "pr_fence|reach:frozen-holder-rejected|reach|fail|0|-DREACH=1|"
  "pr_fence|reach:abort-discards-in-flight|reach|fail|0|-DREACH=2|"
  "pr_fence|reach:fenced-host-retakes|reach|fail|0|-DREACH=3|"
  "pr_fence|reach:taker-finds-itself-fenced|reach|fail|0|-DREACH=4|"
  "pr_fence|reach:all-rejoined-after-fence|reach|fail|0|-DREACH=5|"
  "pr_fence|m1:PR_REREGISTER_EARLY|mutant|fail|0|-DNH=2 -DMAXT=4 -DPROGRESS=0 -DPR_REREGISTER_EARLY|"
  "pr_fence|m2:PR_SKIP_DATA_LUN|mutant|fail|0|-DNH=2 -DMAXT=4 -DPROGRESS=0 -DPR_SKIP_DATA_LUN|"
  "pr_fence|m3:PR_NO_ABORT|mutant|fail|0|-DNH=2 -DMAXT=4 -DPROGRESS=0 -DPR_NO_ABORT|"
  "pr_fence|m4:PR_TAKE_ON_PARTIAL|mutant|fail|0|-DNH=2 -DMAXT=4 -DPROGRESS=0 -DPR_TAKE_ON_PARTIAL|"
  "pr_fence|m5:PR_REJOIN_LEASE_ONLY|mutant|fail|0|-DNH=2 -DMAXT=4 -DPR_REJOIN_LEASE_ONLY|"
  "pr_fence|sweep:conflict-read-as-gone|sweep|pass|10000|-DNH=2 -DMAXT=4 -DCONFLICT_AS_GONE|"
  "pr_fence|finding:PR1-host-queue-after-death|finding|fail|0|-DNH=2 -DMAXT=4 -DPROGRESS=0 -DHOSTQ|"
  "pr_fence|fix:PR1-drain-host-queue|fix|pass|10000|-DNH=2 -DMAXT=4 -DHOSTQ -DFIX_DRAIN|"

  # ---- atomic leases with COMPARE AND WRITE (issue 14): resource (SCEN=1) and delta (SCEN=2) leases
  "caw|res-2h|model|pass|1000000|-DSCEN=1|"
  "caw|res-2h-preempt|model|pass|1000000|-DSCEN=1 -DPR|"
  "caw|delta-2h|model|pass|100000|-DSCEN=2|"
  "caw|delta-2h-preempt|model|pass|1000000|-DSCEN=2 -DPR|"
  "caw|delta-2h-unit-attention|model|pass|1000000|-DSCEN=2 -DNUA=1|"
  "caw|reach:late-caw-matches|reach|fail|0|-DSCEN=1 -DREACH=1|"
  "caw|reach:late-caw-miscompares|reach|fail|0|-DSCEN=1 -DREACH=2|"
  "caw|reach:takeover-from-dead|reach|fail|0|-DSCEN=1 -DREACH=3|"
  "caw|reach:delta-takeover-from-dead|reach|fail|0|-DSCEN=2 -DREACH=3|"
  "caw|reach:ex-waits-for-sh|reach|fail|0|-DSCEN=1 -DREACH=4|"
  "caw|reach:acquire-race-lost|reach|fail|0|-DSCEN=1 -DREACH=5|"
  "caw|reach:join-race-lost|reach|fail|0|-DSCEN=2 -DREACH=5|"
  "caw|m1:CAW_BLIND_WRITE|mutant|fail|0|-DSCEN=1 -DCHECK_OWN=0 -DCAW_BLIND_WRITE|"
  "caw|m1:CAW_BLIND_WRITE(join)|mutant|fail|0|-DSCEN=2 -DCHECK_OWN=0 -DCAW_BLIND_WRITE|"
  "caw|m2:CAW_STALE_COMPARE=2|mutant|fail|0|-DSCEN=1 -DCHECK_OWN=0 -DCAW_STALE_COMPARE=2|"
  "caw|sweep:CAW_STALE_COMPARE=1|sweep|pass|100000|-DSCEN=1 -DCAW_STALE_COMPARE=1|"
  "caw|m3:CAW_NO_H_TAKEOVER|mutant|fail|0|-DSCEN=1 -DCHECK_OWN=0 -DCAW_NO_H_TAKEOVER|"
  "caw|m3:CAW_NO_H_TAKEOVER(slot)|mutant|fail|0|-DSCEN=2 -DCHECK_OWN=0 -DCAW_NO_H_TAKEOVER|"
  "caw|m4:CAW_SH_NO_BITMAP|mutant|fail|0|-DSCEN=1 -DCHECK_OWN=0 -DCAW_SH_NO_BITMAP|"
  "caw|sweep:broken-but-never-rejected|sweep|pass|100000|-DSCEN=1 -DCAW_BROKEN_AFTER_REJECT|"
  "caw|finding:CAW1-broken-after-UA|finding|fail|0|-DSCEN=1 -DCHECK_OWN=0 -DNUA=1 -DCAW_BROKEN_AFTER_REJECT|"
  "caw|finding:CAW1-broken-after-conflict|finding|fail|0|-DSCEN=1 -DCHECK_OWN=0 -DPR -DCAW_BROKEN_AFTER_REJECT|"
  "caw|finding:CAW1-join-after-UA|finding|fail|0|-DSCEN=2 -DCHECK_OWN=0 -DNUA=1 -DCAW_BROKEN_AFTER_REJECT|"
  "caw|finding:CAW1-probe-first|finding|fail|0|-DSCEN=1 -DCHECK_OWN=0 -DNUA=1 -DPR -DCAW_BROKEN_AFTER_REJECT -DFIX_PROBE|"
)

now() { date +%s.%N; }

# One run, in its own directory; leaves "line" (the report line), "ok" (1/0),
# "secs" and, for unexpected results, "detail".
run_one() {
  local entry=$1 dir=$2
  local model variant kind expect minstates dflags panflags
  IFS='|' read -r model variant kind expect minstates dflags panflags <<<"$entry"
  mkdir -p "$dir"
  cp "$here/$model.pml" "$dir/"
  local t0 t1 secs verdict="" errors="" states="-" ok=0 note="" truncated=0 result
  t0=$(now)
  # shellcheck disable=SC2086
  if ! (cd "$dir" && spin -a $dflags "$model.pml" >spin.out 2>&1); then
    verdict="SPIN-ERROR"
  elif ! (cd "$dir" && gcc -O2 -w -DSAFETY -DCOLLAPSE -DMEMLIM="$memlim" -o pan pan.c >gcc.out 2>&1); then
    verdict="GCC-ERROR"
  else
    # shellcheck disable=SC2086
    (cd "$dir" && ./pan -m200000 $panflags >pan.out 2>&1)
    errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' "$dir/pan.out" | head -n1)
    states=$(sed -n 's/^ *\([0-9][0-9]*\) states, stored.*/\1/p' "$dir/pan.out" | head -n1)
    states=${states:--}
    if [ -z "$errors" ]; then verdict="NO-VERDICT"
    elif [ "$errors" -gt 0 ]; then verdict="errors=$errors"
    else verdict="errors=0"; fi
    if grep -qE 'max search depth too small|reached -DMEMLIM bound|out of memory' "$dir/pan.out"; then
      truncated=1
    fi
  fi
  t1=$(now)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  case "$verdict" in
    errors=0)
      if [ "$expect" = pass ]; then
        if [ "$truncated" = 1 ]; then note=" (search truncated)"
        elif [ "$states" = - ] || [ "$states" -lt "$minstates" ]; then note=" (too few states, need $minstates)"
        else ok=1; fi
      fi ;;
    errors=*)
      [ "$expect" = fail ] && ok=1 ;;
  esac
  if [ "$ok" = 1 ]; then
    case "$verdict" in errors=0) result="PASS" ;; *) result="FAIL(as expected)" ;; esac
  else
    result="UNEXPECTED:$verdict$note"
    if [ -f "$dir/pan.out" ]; then
      grep -E 'violated|errors:|states, stored|too small|MEMLIM|out of memory' "$dir/pan.out"
    else
      cat "$dir"/spin.out "$dir"/gcc.out 2>/dev/null
    fi | sed -n '1,15p' | sed 's/^/    | /' >"$dir/detail"
    echo "    | dir: $dir  (flags: $dflags)" >>"$dir/detail"
  fi
  printf '%-12s %-34s %-8s %-6s %-18s %12s %8s\n' \
    "$model" "$variant" "$kind" "$expect" "$result" "$states" "$secs" >"$dir/line"
  echo "$secs" >"$dir/secs"
  echo "$ok" >"$dir/ok"
}

jobs_max=${SM_MODEL_JOBS:-$(nproc 2>/dev/null || echo 1)}
[ "$jobs_max" -gt 2 ] && jobs_max=2     # the big runs want ~1 GiB each
total_start=$(now)
sel=()
for entry in "${runs[@]}"; do
  model=${entry%%|*}
  [ -n "$only" ] && [ "$only" != "$model" ] && continue
  sel+=("$entry")
done
[ "${#sel[@]}" = 0 ] && { echo "run.sh: no runs selected" >&2; exit 2; }

printf '%-12s %-34s %-8s %-6s %-18s %12s %8s\n' MODEL VARIANT KIND EXPECT RESULT STATES SECONDS
bad=0 next=0
declare -A model_secs=()
flush() {   # print finished results in order
  while [ "$next" -lt "${#sel[@]}" ] && [ -f "$tmp/$next/ok" ]; do
    local d="$tmp/$next" m=${sel[$next]%%|*}
    cat "$d/line"
    [ -f "$d/detail" ] && cat "$d/detail"
    [ "$(cat "$d/ok")" = 1 ] || bad=1
    model_secs[$m]=$(awk -v a="${model_secs[$m]:-0}" -v b="$(cat "$d/secs")" 'BEGIN { printf "%.2f", a + b }')
    next=$((next + 1))
  done
}
for i in "${!sel[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; flush; done
  run_one "${sel[$i]}" "$tmp/$i" &
done
wait
flush

total_end=$(now)
echo
for m in disk_paxos leader delta_lease timing handoff receive volset pr_fence caw; do
  [ -n "${model_secs[$m]:-}" ] && printf 'time %-12s %8s s (sum of its runs)\n' "$m" "${model_secs[$m]}"
done
printf 'time %-12s %8s s (wall clock, %s parallel jobs)\n' total \
  "$(awk -v a="$total_start" -v b="$total_end" 'BEGIN { printf "%.2f", b - a }')" "$jobs_max"
if [ "$bad" != 0 ]; then
  keep=1
  echo "RESULT: FAILED (a correct model failed or proved too little, or a mutant/finding/vacuity probe was not caught)"
  exit 1
fi
echo "RESULT: OK (all correct models verified; every mutant, finding and vacuity probe caught)"
exit 0
