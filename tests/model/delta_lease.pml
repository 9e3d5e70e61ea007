/*
 * delta_lease.pml -- delta-lease join/renew races on ONE host_id slot
 * (docs/algorithms.md section 1; src/lease/delta.c sm_lockspace_join,
 * sm_lockspace_renew).
 *
 * NH hosts (1..NH) try to join the same FREE host_id concurrently, each starting
 * at any tick <= START.  Discrete clock `now`, one tick = one unit of clock
 * granularity.  Every I/O issued at tick t takes effect (reads the sector / lands
 * on it) at some tick e in [t, t+D] and completes at some tick c in [e, t+D]:
 * done within d = D ticks, and -- the worst case -- possibly with zero latency.
 * Effects in the same tick happen in any order.  A host with a pending deadline
 * stops the clock until it has acted (Clock below), so "issue the write when the
 * read completed" and "re-read exactly WAIT ticks after the write completed" hold.
 *
 * Join: read the slot; if held: give up (waiting for a held slot to die is
 * timing.pml's business); else write the claim {me, gen+1, seq 0}, issued at the
 * read's completion tick (or up to STALL ticks later with -DSTALL=n: a stalled
 * daemon); wait WAIT ticks after the write completed; re-read: exactly our claim
 * -> we own the host_id with generation gen+1, else SM_EHOSTID_BUSY.
 * WAIT is 2d + 1 tick: "more than 2d".  With exactly 2d (-DWAIT=2*D) a
 * competitor's write landing at exactly 2d ties with our re-read (see README).
 * Renew (NREN times, each starting within R ticks of the previous one): read,
 * verify the slot is byte for byte our last write, else SM_ELOCKSPACE_LOST and
 * stop owning; write seq+1.
 *
 * Properties (assertions):
 *   P1 (CHECK_P1)  at most one host believes it owns the host_id (all claimants
 *                  of the race write the same generation) at any time.
 *   P2             a renewal succeeds only if the last write that landed on the
 *                  slot was the renewer's own: a late claim by another host makes
 *                  the owner's next renewal fail, so two owners never both keep
 *                  renewing.
 * With STALL > 0 the doc's argument ("its write completes within d of its read")
 * does not hold and P1 fails as written (a finding, see README); -DLATECHECK adds
 * the proposed fix: a claimant owns only if its claim write completed within 2d
 * of issuing its first read.
 *
 * Vacuity check (-DREACH=1, SPIN must find the "violation"): a host comes to
 * own the host_id after every host's claim landed.
 *
 * Mutants (-DMUTANT=n):
 *   1  no wait between the claim and the re-read (WAIT = 0)
 *   2  no re-read: own as soon as the claim write completed
 *   3  renew without verifying the record (run with STALL, P1 off)
 *   4  wait only d instead of 2d
 */

#ifndef NH
#define NH 2
#endif
#ifndef D
#define D 2
#endif
#ifndef MUTANT
#define MUTANT 0
#endif
#ifndef REACH           /* vacuity check, must FAIL: see run.sh */
#define REACH 0
#endif
#if MUTANT == 1
#define WAIT 0
#elif MUTANT == 4
#define WAIT D
#endif
#ifndef WAIT
#define WAIT (2 * D + 1)
#endif
#ifndef STALL
#define STALL 0
#endif
#ifndef LATECHECK
#define LATECHECK 0
#endif
#ifndef CHECK_P1
#define CHECK_P1 1
#endif
#ifndef START           /* latest tick at which a host starts joining */
#define START 2
#endif
#ifndef NREN            /* renewals per owner */
#define NREN 2
#endif
#ifndef R               /* a renewal starts within R ticks of the previous one */
#define R (2 * D)
#endif
#ifndef TMAX
#define TMAX 40
#endif
#define NEVER 255

/* the slot: flag/owner instance (0 = free), generation, sequence */
byte rec_own = 0, rec_gen = 0, rec_seq = 0;
byte last_w = 0;        /* host whose write landed last (for P2) */
byte now = 0;
byte dl[NH + 1];        /* per host: latest tick of its next step, NEVER = none */
bool owner[NH + 1];
byte nowners = 0;
byte nclaims = 0;        /* claim writes that landed */

#if NH >= 3
#define CAN_TICK (now < dl[1] && now < dl[2] && now < dl[3] && (dl[1] < NEVER || dl[2] < NEVER || dl[3] < NEVER))
#else
#define CAN_TICK (now < dl[1] && now < dl[2] && (dl[1] < NEVER || dl[2] < NEVER))
#endif

/* time advances only when no host must still act in the current tick */
active proctype Clock() {
  do
  :: atomic { now < TMAX && CAN_TICK -> now++ }
  od
}

proctype Host(byte i) {
  byte t0, te, tr;      /* issue tick, effect tick, tick the join's first read was issued */
  byte sown, sgen, sseq;/* snapshot read */
  byte gen, seq, n;
  bool mine;

  /* ---- join: read the slot ---- */
  atomic { now <= START -> t0 = now; tr = now; dl[i] = t0 + D }
  atomic { sown = rec_own; sgen = rec_gen; sseq = rec_seq; te = now; dl[i] = t0 + D }
  atomic {
    now >= te ->
    if
    :: sown != 0 -> dl[i] = NEVER; goto done   /* held: not this model's case */
    :: else
    fi;
    gen = sgen + 1; sown = 0; sgen = 0; sseq = 0;
    te = now; dl[i] = now + STALL               /* issue the claim write */
  }
  /* ---- claim write ---- */
  atomic { now >= te -> t0 = now; dl[i] = t0 + D }
  atomic { rec_own = i; rec_gen = gen; rec_seq = 0; last_w = i; nclaims++; te = now; dl[i] = t0 + D }
  atomic {
    now >= te ->
#if LATECHECK
    if
    :: now - tr > 2 * D -> dl[i] = NEVER; goto done   /* our claim may be late: busy */
    :: else
    fi;
#endif
#if MUTANT == 2
    goto owned
#endif
    te = now; dl[i] = now + WAIT
  }
  /* ---- wait 2d, re-read ---- */
  atomic { now >= te + WAIT -> t0 = now; dl[i] = t0 + D }
  atomic { sown = rec_own; sgen = rec_gen; sseq = rec_seq; te = now; dl[i] = t0 + D }
  atomic {
    now >= te ->
    if
    :: sown == i && sgen == gen && sseq == 0 -> sown = 0; sgen = 0; sseq = 0; goto owned
    :: else -> dl[i] = NEVER; goto done          /* SM_EHOSTID_BUSY */
    fi
  }

owned:
  atomic {
#if CHECK_P1
    assert(nowners == 0);
#endif
    owner[i] = true; nowners++;
#if REACH
    assert(nclaims < NH);   /* vacuity check: every host's claim landed, one owns */
#endif
    seq = 0; te = now; dl[i] = now + R
  }
  /* ---- renewals ---- */
  n = 0;
  do
  :: n >= NREN -> dl[i] = NEVER; break
  :: n < NREN ->
     atomic { now >= te -> t0 = now; dl[i] = t0 + D }
     atomic {
       sown = rec_own; sgen = rec_gen; sseq = rec_seq; mine = (last_w == i);
       te = now; dl[i] = t0 + D
     }
     atomic {
       now >= te ->
#if MUTANT != 3
       if
       :: sown == i && sgen == gen && sseq == seq -> skip
       :: else ->                                 /* SM_ELOCKSPACE_LOST */
          owner[i] = false; nowners--; dl[i] = NEVER; goto done
       fi;
#endif
       sown = 0; sgen = 0; sseq = 0;
       t0 = now; dl[i] = t0 + D               /* issue the renewal write */
     }
     atomic { rec_own = i; rec_gen = gen; rec_seq = seq + 1; last_w = i; te = now; dl[i] = t0 + D }
     atomic {
       now >= te ->
       assert(mine);                              /* P2 */
       mine = false; seq++; n++;
       te = now; dl[i] = now + R
     }
  od;
done:
  skip
}

init {
  atomic {
    byte k = 1;
    do
    :: k <= NH -> dl[k] = START; run Host(k); k++
    :: else -> break
    od;
  }
}
