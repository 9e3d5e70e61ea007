/*
 * timing.pml -- the timing rule behind H (docs/algorithms.md section 1
 * "Validity" and "Observation"; src/lease/timeouts.c sm_timeouts_derive,
 * src/lease/delta.c sm_lockspace_renew and the observation table).
 *
 * Discrete ticks.  A tick is one unit of clock granularity: two events in the
 * same tick may be in either order, and a clock reading k means "during tick k".
 *
 * Holder: its record was written by a renewal that started at tick 0 and landed
 * at tick 0 (last_renewal L = 0).  It starts up to NREN more renewals, each
 * within R ticks of the previous start.  A renewal started at t0 (read-verify +
 * write, at most 2D ticks) may land its write at any tick in [t0, t0+2D] or never
 * (I/O error), and completes at a tick c in [landing, t0+2D]; it succeeds only if
 * the write landed and c <= L + F (the lease is still valid), and then
 * L := t0, the START of the renewal.  Otherwise, once now > L + F, the daemon kills
 * the lease holders and stops petting the watchdog: the holder and its processes
 * may live through tick L + F + W and are dead after it.
 *
 * Observer: reads the record again and again (a new read within G ticks of the
 * previous completion).  A read issued at i takes effect at a tick in [i, i+D]
 * and completes at c in [effect, i+D].  first_seen = completion of the first read
 * that returned the current bytes, last_ok = completion of the latest read that
 * returned them; it takes over when last_ok - first_seen > H (strictly).
 *
 * Property (assertion): at takeover the holder is dead (now > L + F + W).
 * Passes with H = F + W; fails with H = F + W - 1 or - 2 (run.sh sweeps H).
 *
 * Options (documented findings, see README):
 *   -DREVIVE       a renewal that completes after L + F (but while the host is
 *                  still alive) counts, and petting resumes: FAILS.
 *   -DLASTOK_ISSUE last_ok = ISSUE time of the latest read returning the bytes
 *                  (instead of its completion): makes REVIVE and D > W safe.
 * Vacuity check (-DREACH=1, SPIN must find the "violation"): the observer
 * takes over at tick L + F + W + 1, right after the holder's death.
 *
 * Mutants (-DMUTANT=n):
 *   1  last_renewal = completion of the renewal I/O instead of its start
 *   (H = F + W - 2 is run as a sweep point, it must fail too)
 */

#ifndef F
#define F 4
#endif
#ifndef W
#define W 3
#endif
#ifndef H
#define H (F + W)
#endif
#ifndef D               /* one I/O takes at most D ticks */
#define D 1
#endif
#ifndef R               /* renewal interval (ticks) */
#define R 2
#endif
#ifndef NREN            /* renewal attempts after the initial one */
#define NREN 3
#endif
#ifndef G               /* observer: max gap between two reads */
#define G 1
#endif
#ifndef MUTANT
#define MUTANT 0
#endif
#ifndef REACH           /* vacuity check, must FAIL: see run.sh */
#define REACH 0
#endif
#ifndef TMAX
#define TMAX (NREN * R + F + W + 2 * D + 3)
#endif
#define NEVER 255

byte now = 0;
byte L = 0;             /* holder: last_renewal (start of last successful renewal) */
byte ver = 1;           /* the record's bytes: every landed write changes them */
byte dlh = 0, dlo = 0;  /* latest tick of the holder's / observer's next step */
bool took_over = false;

#define ALIVE (now <= L + F + W)

active proctype Clock() {
  do
  :: atomic { now < TMAX && now < dlh && now < dlo -> now++ }
  od
}

active proctype Holder() {
  byte t0, tp = 0, e, n = 0;
  bool landed;

  dlh = R;
  do
  :: n >= NREN -> break
#ifndef REVIVE
  :: now > L + F -> break                  /* expired: killing, watchdog not petted */
#else
  :: !ALIVE -> break                       /* reset by the watchdog */
#endif
  :: n < NREN ->
     /* start a renewal within R ticks of the previous start */
     atomic { now > tp -> t0 = now; tp = now; dlh = t0 + 2 * D; landed = false; n++ }
     if
     :: atomic { ver++; e = now; landed = true }    /* the write lands */
     :: skip                                         /* ... or never does */
     fi;
     atomic {
       (!landed || now >= e) ->
       if
#ifdef REVIVE
       :: landed && now <= L + F + W ->               /* late success revives */
#else
       :: landed && now <= L + F ->
#endif
#if MUTANT == 1
          L = now                                    /* BUG: completion time */
#else
          L = t0                                     /* start of the renewal */
#endif
       :: true                                       /* failed / timed out */
       fi;
       e = 0; landed = false; t0 = 0;
       dlh = tp + R
     }
  od;
  dlh = NEVER
}

active proctype Observer() {
  byte i, snap, seen = 0, fs = 0, lo = 0;

  dlo = G;
  do
  :: atomic { true -> i = now; dlo = i + D }          /* issue a read */
     atomic { snap = ver; dlo = i + D }               /* it takes effect */
     atomic {
       true ->                                        /* it completes, at now */
       if
       :: snap == seen ->
#ifdef LASTOK_ISSUE
          lo = i
#else
          lo = now
#endif
       :: else -> seen = snap; fs = now; lo = now
       fi;
       snap = 0;
       if
       :: lo > fs + H ->                              /* dead: age > H */
          took_over = true;
          assert(!ALIVE);
#if REACH
          assert(now != L + F + W + 1);   /* vacuity: takeover right after death */
#endif
          break
       :: else -> i = 0; dlo = now + G
       fi
     }
  od;
  dlo = NEVER
}
