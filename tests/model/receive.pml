/*
 * receive.pml -- the seed's "receive lease" hand-off through the request
 * record (docs/algorithms.md section 3 "Who is still waiting";
 * src/daemon/jobs.c exec_receive, receive_give_up, receive_take_over,
 * receiver_waiting, do_release; src/lease/paxos.c sm_paxos_handoff, go_by_ms).
 *
 * Discrete ticks as in timing.pml: a process that waits for a tick holds the
 * clock at that tick until it acted (dl*), two events in one tick happen in
 * either order.  An I/O issued at tick i takes effect (a write lands, a read
 * samples the disk) at a tick in [i, i+D]; a read completes at its sample (the
 * time after it is folded into the next step's own latitude), except the
 * source's first read, which completes in [sample, i+D].
 *
 * Parties (host ids): S = 1 the source, R = 2 the receiver, T = 3 a third host.
 * Disk: the request record (rq kind, seq) and the lease, abstracted to one
 * atomic decision per instance (disk_paxos.pml checks that abstraction):
 * instance n is decided by the first phase-2 write (W2) for it that lands,
 * dv[n] is its value, and a later W2 for n adopts it.  `own`/`lv` is what
 * inquire reports: the latest decided instance's value (a dblock's later
 * instance over the leader), 0 after a release (which keeps lv).
 *
 * S holds the lease at lv 0 and uses it.  By tick SEXIT its process exits 0
 * (do_release, as implemented) or its host dies.  do_release:
 *   read the request; no hand-off request -> release.  Else base = its seq,
 *   start = now (the read's completion); while now - start <= WIN: sleep 0..1
 *   tick (100 ms), read (issued at i): withdrawn -> release; seq != base ->
 *   go_by = i + GO, hand over.  Window over -> release.
 *   Hand over: R1, W1, R2 take 0..3D ticks; past go_by -> release; else W2
 *   proposing R for instance 1 (lands within D).
 * R: starts at a tick <= RSTART, reads the leader (held by S at lv0), writes
 *   the request {hand-off, seq+1}, then every tick: may give up; refreshes
 *   (seq+1) when P ticks passed since the last refresh; reads: handed to us ->
 *   uses it; released or taken by another -> done; S dead (> H ticks) -> plain
 *   acquire.  Give up at t: write the request withdrawn (kind none), wait
 *   until t + SETTLE, read once more: handed to us -> uses it.
 * T: up to NT times, at any tick, reads; if the lease is free or its owner
 *   dead (> H ticks), runs instance lv+1 for itself; uses it if it won, then
 *   releases.
 * S's death: between its steps (the I/O in flight lands or is lost).
 *
 * Properties:
 *   P1 exclusion: never two users at once (assert when a user starts).
 *   P2 no stuck lease: when all are done, the lease is not owned on disk by a
 *      live host that does not use it (R: "its daemon does not know it").
 *
 * Options:
 *   -DFAILW         R's withdraw write may fail and never land (an I/O error).
 *   -DFIX_SETTLE=1  R measures the settle wait from the withdraw's completion
 *                   c (until c + 3D + 1), and after a failed withdraw from t
 *                   over the owner's whole window (t + D + WIN + 1 + 3D + 1).
 * Vacuity (-DREACH=n, must fail): 1 R receives by hand-off while waiting;
 *   2 R gave up and its settle read finds the lease handed over after all;
 *   3 R takes the lease over from a dead S.
 * Mutants (-DMUTANT=n, must fail):
 *   1 the code before the fix: S hands over whenever a hand-off request is on
 *     disk (no sequence change, no go_by); R gives up silently
 *   2 R withdraws but does not read again after the settle wait
 *   3 S has no phase-2 deadline (go_by)
 *   4 R does not withdraw when giving up (it still re-checks after SETTLE)
 */

#ifndef D               /* I/O timeout d, in ticks */
#define D 1
#endif
#ifndef P               /* SM_HANDOFF_REFRESH_MS, in ticks */
#define P 2
#endif
#define WIN (2 * (P + 2 * D) + D)     /* sm_handoff_window_ms */
#define GO (2 * D)                    /* sm_handoff_go_ms */
#define SETTLE (GO + D + P)           /* sm_handoff_settle_ms */
#ifndef H               /* host dead after H ticks unchanged */
#define H (2 * D + 1)
#endif
#ifndef SEXIT
#define SEXIT 2
#endif
#ifndef RSTART
#define RSTART 1
#endif
#ifndef NT
#define NT 1
#endif
#ifndef MUTANT
#define MUTANT 0
#endif
#ifndef REACH
#define REACH 0
#endif
#ifndef FIX_SETTLE
#define FIX_SETTLE 0
#endif
#ifndef TLAST           /* T tries by this tick */
#define TLAST (SEXIT + WIN + H + 2)
#endif
#define TMAX (SEXIT + 2 * WIN + H + 14 * D + P + 10)
#define NEVER 255

#define S_ 1
#define R_ 2
#define T_ 3
#define RQ_NONE 0
#define RQ_HANDOFF 1

byte now = 0;
byte dls = 0, dlr = 0, dlt = 0;          /* latest tick of each one's next step */
byte rq = RQ_NONE, seq = 0;              /* the request record */
byte own = S_, lv = 0;                   /* what inquire reports */
byte dv[4];                              /* dv[n]: value decided in instance n */
bool s_use = true, r_use = false, t_use = false;
bool sdead = false;
byte td = 0;                             /* S's death tick */
bool sdone = false, rdone = false, tdone = false;

#define SDEAD (sdead && now > td + H)
#define EXCL(me) assert(!s_use && !r_use && !t_use)

/* a W2 for instance n proposing value x lands */
#define LAND_W2(n, x) \
  if \
  :: dv[n] == 0 -> dv[n] = x; if :: n > lv -> lv = n; own = x :: else fi \
  :: else \
  fi

active proctype Clock() {
end:
  do
  :: atomic { now < TMAX && now < dls && now < dlr && now < dlt -> now++ }
  od
}

#define SDIE  atomic { sdead = true; td = now; s_use = false; dls = NEVER; sdone = true }

active proctype Src() {
  byte base, start, gob, k;

  dls = SEXIT;
  if
  :: SDIE; goto done
  :: atomic { s_use = false; dls = now }                 /* its process exits 0 */
  fi;
  /* receiver_waiting: first look */
  if
  :: SDIE; goto done
  :: atomic { dls = now + D }
  fi;
  atomic { k = rq; base = seq }                          /* sample */
  atomic { true -> start = now; dls = now }              /* completes */
  if
  :: k != RQ_HANDOFF -> goto release
  :: else
  fi;
#if MUTANT == 1
  gob = NEVER; goto handover;
#endif
  do
  :: atomic { now > start + WIN -> dls = now }; goto release
  :: now <= start + WIN ->
     if
     :: SDIE; goto done
     :: atomic { dls = now + 1 }
     fi;
     atomic { true -> gob = now + GO; dls = now + D }     /* sleep 0..1 tick, issue */
     atomic {
       true ->                                           /* sample = completion */
       dls = now;
       if
#ifdef RERR
       :: gob = 0                                        /* I/O error: continue */
#endif
       :: rq != RQ_HANDOFF -> gob = 0; goto release
       :: rq == RQ_HANDOFF && seq != base -> goto handover  /* go_by = issue + GO */
       :: else -> gob = 0
       fi
     }
  od;
handover:
  /* R1, W1, R2: 0..3D ticks */
  atomic { dls = now + 3 * D };
  if
  :: SDIE; goto done
  :: atomic {
       true ->
#if MUTANT != 3
       if
       :: now > gob -> dls = now; goto release            /* could not start in time */
       :: else
       fi;
#endif
       gob = 0; dls = now + D                            /* W2 issued */
     }
  fi;
  if
  :: atomic { LAND_W2(1, R_); dls = NEVER; sdone = true }  /* lands; R3, W3 */
  :: SDIE                                                 /* lost with the host */
  fi;
  goto done;
release:
  if
  :: SDIE
  :: atomic { dls = now + D };
     atomic { if :: own == S_ && lv == 0 -> own = 0 :: else fi; dls = NEVER; sdone = true }
  fi;
done:
  skip
}

active proctype Recv() {
  byte sq, refreshed, t, until, n;
  bool wok;

  dlr = RSTART;
  atomic { true -> dlr = now + D }
  atomic {
    true ->
    if
    :: own != S_ || lv != 0 -> dlr = NEVER; rdone = true; goto done   /* nothing to receive */
    :: else -> sq = seq + 1; dlr = now
    fi
  }
  atomic { dlr = now + D }
  atomic { rq = RQ_HANDOFF; seq = sq; refreshed = now; dlr = now + 1 }
  do
  :: atomic { now >= dlr -> dlr = now }
     if
     :: goto giveup
     :: skip
     fi;
     if
     :: now >= refreshed + P ->
        atomic { dlr = now + D };
        atomic { sq++; rq = RQ_HANDOFF; seq = sq; refreshed = now; dlr = now }
     :: else
     fi;
     atomic { dlr = now + D };
     atomic {
       true ->
       if
       :: own == R_ && lv == 1 ->                        /* received */
          EXCL(); r_use = true;
#if REACH == 1
          assert(false);
#endif
          dlr = NEVER; rdone = true; goto done
       :: (own != R_ || lv != 1) && (lv != 0 || own == 0) ->     /* lver moved or released */
          dlr = NEVER; rdone = true; goto done
       :: own == S_ && lv == 0 && SDEAD -> dlr = now; goto takeover
       :: else -> dlr = now + 1
       fi
     }
  od;
giveup:
  t = now;
#if MUTANT == 1
  dlr = NEVER; rdone = true; goto done;                  /* old code: just stop */
#endif
#if MUTANT != 4
  atomic { dlr = now + D };
  if
  :: atomic { rq = RQ_NONE; seq = sq + 1; wok = true; dlr = now }
#ifdef FAILW
  :: atomic { wok = false; dlr = now }                   /* error, never lands */
#endif
  fi;
#endif
#if MUTANT == 2
  dlr = NEVER; rdone = true; goto done;
#endif
#if FIX_SETTLE
  if
  :: wok -> until = now + 3 * D + 1
  :: else -> until = t + D + WIN + 1 + 3 * D + 1
  fi;
#else
  until = t + SETTLE;
#endif
  if
  :: now < until -> atomic { dlr = until }; atomic { now >= until -> dlr = now }
  :: else
  fi;
  atomic { dlr = now + D };
  atomic {
    if
    :: own == R_ && lv == 1 ->                           /* handed over after all */
       EXCL(); r_use = true;
#if REACH == 2
       assert(false);
#endif
    :: else
    fi;
    dlr = NEVER; rdone = true
  }
  goto done;
takeover:                                                /* plain acquire */
  atomic { dlr = now + D };
  atomic {
    true ->
    if
    :: own == R_ -> EXCL(); r_use = true; dlr = NEVER; rdone = true; goto done
    :: own == 0 || (own == S_ && SDEAD) -> n = lv + 1; dlr = now
    :: else -> dlr = NEVER; rdone = true; goto done      /* held: refused */
    fi
  }
  atomic { dlr = now + D };
  atomic {
    LAND_W2(n, R_);
    if
    :: dv[n] == R_ && own == R_ ->
       EXCL(); r_use = true;
#if REACH == 3
       assert(false);
#endif
    :: else
    fi;
    dlr = NEVER; rdone = true
  }
done:
  skip
}

active proctype Third() {
  byte n, k = 0;

  do
  :: k >= NT -> break
  :: k < NT ->
     atomic { k++; dlt = TLAST };
     atomic { true -> dlt = now + D };
     atomic {
       true ->
       if
       :: own == 0 || (own == S_ && SDEAD) -> n = lv + 1; dlt = now
       :: else -> n = 0; dlt = now                       /* held: refused */
       fi
     }
     if
     :: n > 0 ->
        atomic { dlt = now + D };
        atomic {
          LAND_W2(n, T_);
          if
          :: dv[n] == T_ && own == T_ -> EXCL(); t_use = true; dlt = now + 1
          :: else -> dlt = now
          fi
        }
        if
        :: t_use ->                                      /* run, then release */
           atomic { true -> t_use = false; dlt = now + D };
           atomic { if :: own == T_ && lv == n -> own = 0 :: else fi; dlt = now }
        :: else
        fi
     :: else
     fi
  od;
  atomic { dlt = NEVER; tdone = true }
}

active proctype Final() {
end:
  atomic {
    sdone && rdone && tdone ->
    assert(own == 0 || (own == S_ && sdead) || (own == R_ && r_use) || (own == T_ && t_use))
  }
}
