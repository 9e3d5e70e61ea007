/*
 * volset.pml -- delta leases on a volume set: one host_id slot kept on a
 * majority of three members (VOLSET_SPEC.md: owner verdict with a common
 * window, join with per-member 2d counting, renewal on a majority).
 *
 * Time: discrete ticks as in timing.pml and delta_lease.pml.  A process that
 * must act by a tick holds the clock there (dl[], pdl[]); events in one tick
 * happen in any order.  d = D = 1 tick.
 *
 * Members 0..2 each hold the slot's record {generation, instance (0 = FREE),
 * sequence}; no byte value ever repeats on a member.  Failures are per host
 * path: each host has at most one "bad" member at a time (bad[h], NONE =
 * none), chosen at tick 0 and changed NSW times in all, at any tick (so two
 * hosts may have different bad members).  I/O to a good member succeeds.
 *   Reads: a read op is issued, samples every member and completes in one
 *   instant, at its issue tick (zero latency, the worst case: every read that
 *   samples later is dominated by the next op of a host that reads every
 *   tick).  A read of the bad member may fail.
 *   Writes: a write op issued at tick i lands on its members either all at
 *   the issue or all when it completes at i + D (anywhere among the other
 *   events of those ticks).  A write to the bad member may also never land, or
 *   be slow: its issuer counts it failed at the timeout i + D, and it lands at
 *   any tick up to i + 2D ("complete up to d late"), also after its issuer
 *   crashed (Lander).  A host never writes a member while a slow write of its
 *   own may still land there (that member write fails at once, as the
 *   one-volume disk layer does); at most one slow write per host in flight.
 *   A member write completes when it lands.
 *
 * Read op: per member, bytes_m, first_seen_m = completion of the first read of
 *   m that returned those bytes, last_ok_m = ISSUE of the latest one, updated
 *   from every successful member read; the op succeeds with a majority.
 * Write op: succeeds with a majority of member writes completed.
 *
 * Hosts 1..NH.  SCEN=1 (takeover): host 1 holds the slot (generation 1, on
 *   every member, renewed at tick 0: L = 0) and renews; the other hosts want
 *   the slot.  SCEN=2 (race): the slot is FREE (generation 0) on every member;
 *   every host joins, starting at a tick <= START.
 * Join (at most NJ claims per host):
 *   1. read every member, a new op every tick (the densest observer: the
 *      worst case for the verdict) until one reads a majority; g = max
 *      generation of that op's successful reads;
 *   2. verdict for (slot, g), each member as in our latest successful read of
 *      it: GONE  generation > g, or generation == g and FREE;
 *              QUIET generation == g and HELD, window [first_seen, last_ok];
 *      DEAD iff two members (a majority; a third only narrows the window) are
 *      each GONE or QUIET and the QUIET ones have a common window longer than
 *      H: min(last_ok) - max(first_seen) > H.  Not DEAD: back to 1;
 *   3. after 0..STALL ticks, write the claim {g+1, new instance, seq 0}; it
 *      counts on member m only if m was read in the deciding op and the write
 *      completed by that op's issue + 2D.  Fewer than two count: start over
 *      (no withdraw);
 *   4. wait J after the claim op completed, read every member: joined iff the
 *      claim is there byte for byte on two members.  L = the claim's issue.
 * Renew (joined host; first right after joining, then every R; never after
 *   L + F: expired for good): read every member (no majority: the renewal
 *   failed); lost iff a member read shows a generation above ours; in the same
 *   instant write {gen, inst, seq+1}; success iff a majority completed and the
 *   op completed by L + F: then L = the renewal's start.
 * Crashes (NCRASH in all): a joined host may stop while it waits for its next
 *   op, and any host in the middle of a write op (each member write not landed
 *   yet lands or not; a slow write in flight still lands).  Its processes (lease
 *   holders) may run until L + F + W unless it crashed: ALIVE(y).
 *
 * Properties (assertions):
 *   (a) JOIN  when a host joins, no other joined host is ALIVE: never two
 *       holders of the host_id with overlapping validity.
 *   (b) DEAD  when a host judges DEAD (and goes on to claim), no other joined
 *       host is ALIVE: now > L + F + W, so its lease (L + F) has expired.
 *   (c) LIVE  (-DLIVE=1, run with NSW=0): a bounded liveness check: an op that
 *       read a majority when no write has landed anywhere for more than
 *       H + LSLACK ticks judges DEAD.
 *
 * Options:
 *   -DSEQMOD=n     renewal sequence numbers cycle through 1..n-1 (default 64: never
 *                  within the horizon; a small n is unsound: ABA).
 *   -DSLOW=0       no slow writes (a bad member's writes fail or succeed).
 *   -DTRACE        with spin -t: print a readable summary of a trail.
 *   -DFIX_LOWER=1  a record with a generation below g counts as QUIET (its bytes
 *                  unchanged over the common window) instead of "neither": the
 *                  remedy for finding VS1 (README).
 * Vacuity (-DREACH=n, must fail):
 *   1 a host joins by taking over from the holder (SCEN=1)
 *   2 DEAD judged from two QUIET members whose windows start at different times
 *   3 two claims landed and a host joined (SCEN=2)
 *   4 a claimant crashes with its claim landed on one member only (SCEN=2):
 *     the state SCEN=3 starts from
 * Mutants (-DMUTANT=n, must fail):
 *   1 VS_PER_MEMBER  each QUIET member of the majority quiet for > H on its
 *                    own; the windows need not overlap
 *   2 VS_ONE_MEMBER  liveness from one member only (the host's first-named)
 *   3 VS_NO_2D       a claim counts on m however late it completed (STALL)
 */

#define D 1             /* d: the abstraction above needs D = 1 */
#ifndef R               /* renewal interval (2d) */
#define R (2 * D)
#endif
#ifndef F               /* renewal fail deadline */
#define F 3
#endif
#ifndef W               /* watchdog */
#define W 1
#endif
#ifndef H               /* host dead time */
#define H (F + W)
#endif
#ifndef J               /* join wait: more than 2d */
#define J (2 * D + 1)
#endif
#ifndef NH
#define NH 2
#endif
#ifndef SCEN
#define SCEN 1
#endif
#ifndef START
#define START 1
#endif
#ifndef NJ              /* claims per host */
#define NJ 2
#endif
#ifndef NSW             /* changes of the bad member */
#define NSW 1
#endif
#ifndef NCRASH
#define NCRASH 1
#endif
#ifndef STALL
#define STALL 0
#endif
#ifndef TMAX
#define TMAX 16
#endif
#ifndef MUTANT
#define MUTANT 0
#endif
#ifndef REACH
#define REACH 0
#endif
#ifndef LIVE
#define LIVE 0
#endif
#ifndef LSLACK
#define LSLACK (2 * D + 1)
#endif
#ifndef SEQMOD          /* renewal sequence numbers cycle through 1..SEQMOD-1 */
#define SEQMOD 64
#endif
#ifndef SLOW            /* slow writes (landing up to d after their timeout) */
#define SLOW 1
#endif
#ifndef FIX_LOWER
#define FIX_LOWER 0
#endif

#define NEVER 255
#ifdef TRACE            /* replay a trail with spin -t -DTRACE ... to get a readable summary */
#define TR2(f, a, b) printf(f, a, b)
#define TR3(f, a, b, c) printf(f, a, b, c)
#define TR6(f, a, b, c, d, e, g) printf(f, a, b, c, d, e, g)
#else
#define TR2(f, a, b) skip
#define TR3(f, a, b, c) skip
#define TR6(f, a, b, c, d, e, g) skip
#endif
#define NONE 3
#define GONE 2
#define QUIET 1

byte mg[3], mo[3], ms[3];       /* the members' records: generation, instance, sequence */
byte nsw = 0;
byte now = 0;
byte lastland = 0;              /* tick of the latest landed write (LIVE) */
byte ncrash = 0, nclaims = 0;

/* per host, index 1..NH */
byte dl[NH + 1];                /* latest tick of the host's next step */
bool joined[NH + 1], crashed[NH + 1];
byte bad[NH + 1];               /* the member this host's path to is bad (NONE = none) */
byte L[NH + 1];
byte pm[NH + 1], pg[NH + 1], po[NH + 1], ps[NH + 1], pdl[NH + 1];   /* slow write in flight */

#define ALIVE(y) (joined[y] && !crashed[y] && now <= L[y] + F + W)
#if NH >= 3
#define CAN_TICK (now < dl[1] && now < dl[2] && now < dl[3] && now < pdl[1] && now < pdl[2] && now < pdl[3])
#define OTHERS_DEAD(h) ((h == 1 || !ALIVE(1)) && (h == 2 || !ALIVE(2)) && (h == 3 || !ALIVE(3)))
#define ANY_PENDING (pm[1] != NONE || pm[2] != NONE || pm[3] != NONE)
#else
#define CAN_TICK (now < dl[1] && now < dl[2] && now < pdl[1] && now < pdl[2])
#define OTHERS_DEAD(h) ((h == 1 || !ALIVE(1)) && (h == 2 || !ALIVE(2)))
#define ANY_PENDING (pm[1] != NONE || pm[2] != NONE)
#endif

active proctype Clock() {
  byte k;
  do
  :: atomic {
       now < TMAX && CAN_TICK -> now++;
       if
       :: skip
       :: nsw < NSW -> nsw++;
          if
          :: k = 1
          :: k = 2
#if NH >= 3
          :: k = 3
#endif
          fi;
          if :: bad[k] != 0 -> bad[k] = 0 :: bad[k] != 1 -> bad[k] = 1 :: bad[k] != 2 -> bad[k] = 2 :: bad[k] != NONE -> bad[k] = NONE fi;
          TR3("t=%d h%d: bad member now m%d (3 = none)\n", now, k, bad[k]); k = 0
       fi
     }
  od
}

/* slow writes land at any tick up to their deadline, issuer alive or not */
active proctype Lander() {
  byte y, m;
  do
  :: atomic {
       ANY_PENDING ->
       if
       :: pm[1] != NONE -> y = 1
       :: pm[2] != NONE -> y = 2
#if NH >= 3
       :: pm[3] != NONE -> y = 3
#endif
       fi;
       m = pm[y];
       mg[m] = pg[y]; mo[m] = po[y]; ms[m] = ps[y]; lastland = now;
       TR6("t=%d h%d slow write m%d: {g%d i%d s%d} landed\n", now, y, m, pg[y], po[y], ps[y]);
       if :: ps[y] == 0 -> nclaims++ :: else fi;
       pm[y] = NONE; pg[y] = 0; po[y] = 0; ps[y] = 0; pdl[y] = NEVER;
       y = 0; m = 0
     }
  od
}

#define SAME(k) (seen[k] && og[k] == mg[k] && oo[k] == mo[k] && os[k] == ms[k])

/* host h reads member k now (st[k]: 0 to do, 1 done, 2 failed) */
#define RD(k) \
  if \
  :: k == bad[h] -> st[k] = 2; TR3("t=%d h%d read m%d: failed\n", now, h, k) \
  :: true -> st[k] = 1; nok++; \
     if \
     :: !observing -> og[k] = mg[k] \
     :: observing && SAME(k) -> lo[k] = ri \
     :: observing && !SAME(k) -> seen[k] = 1; og[k] = mg[k]; oo[k] = mo[k]; os[k] = ms[k]; fs[k] = now; lo[k] = ri \
     fi; \
     TR6("t=%d h%d read m%d: {g%d i%d s%d}", now, h, k, mg[k], mo[k], ms[k]); \
     TR2(" window [%d,%d]\n", (observing -> fs[k] : 0), (observing -> lo[k] : 0)) \
  fi

/* host h writes {wg, wo, wsq} to member k now */
#define WR(k) \
  if \
  :: pm[h] == k -> st[k] = 2 \
  :: pm[h] != k -> \
     if \
     :: true -> mg[k] = wg; mo[k] = wo; ms[k] = wsq; st[k] = 1; nwok++; wc[k] = now; lastland = now; \
        if :: wsq == 0 -> nclaims++ :: else fi; \
        TR6("t=%d h%d write m%d: {g%d i%d s%d} landed\n", now, h, k, wg, wo, wsq) \
     :: k == bad[h] -> st[k] = 2; TR3("t=%d h%d write m%d: failed\n", now, h, k) \
     :: SLOW && k == bad[h] && pm[h] == NONE -> st[k] = 2; slow = 1; \
        pm[h] = k; pg[h] = wg; po[h] = wo; ps[h] = wsq; pdl[h] = tw + 2 * D; \
        TR3("t=%d h%d write m%d: slow (counted failed, lands later)\n", now, h, k) \
     fi \
  fi

#define ALLDONE (st[0] != 0 && st[1] != 0 && st[2] != 0)

/* (in an atomic) a read op issued at ri samples every member now */
inline read_all() {
  nok = 0;
  RD(0); RD(1); RD(2)
}

/* (in an atomic) issue a write op now: some members are written at once */
inline write_issue() {
  tw = now; nwok = 0; slow = 0; st[0] = 0; st[1] = 0; st[2] = 0;
  if
  :: WR(0); WR(1); WR(2)        /* every member at the issue ... */
  :: skip                       /* ... or every member at the completion */
  fi;
  dl[h] = tw + D
}
#define WRITE_DUE ((ALLDONE && !slow) || now >= tw + D)
inline write_finish() {
  if :: st[0] == 0 -> WR(0) :: else fi;
  if :: st[1] == 0 -> WR(1) :: else fi;
  if :: st[2] == 0 -> WR(2) :: else fi;
  tc = now; slow = 0
}

#define CLASSIFY(k) \
  if \
  :: !seen[k] -> cls[k] = 0 \
  :: seen[k] && (og[k] > g || (og[k] == g && oo[k] == 0)) -> cls[k] = GONE \
  :: seen[k] && og[k] == g && oo[k] != 0 -> cls[k] = QUIET \
  :: seen[k] && og[k] < g -> cls[k] = (FIX_LOWER -> QUIET : 0) \
  fi

#define MIN(a, b) ((a) < (b) -> (a) : (b))
#define MAX(a, b) ((a) > (b) -> (a) : (b))
#define QOLD(k) (lo[k] > fs[k] + H)                   /* member k on its own quiet > H */
#if MUTANT == 1
#define BOTHQ(a, b) (QOLD(a) && QOLD(b))              /* BUG: windows need not overlap */
#else
#define BOTHQ(a, b) (MIN(lo[a], lo[b]) > MAX(fs[a], fs[b]) + H)
#endif
#define PAIR(a, b) (cls[a] != 0 && cls[b] != 0 && \
  (cls[a] == GONE -> (cls[b] == GONE || QOLD(b)) : (cls[b] == GONE -> QOLD(a) : BOTHQ(a, b))))
#define RQ(a, b) (PAIR(a, b) && cls[a] == QUIET && cls[b] == QUIET && fs[a] != fs[b])

#define CRASH atomic { ncrash < NCRASH -> TR2("t=%d h%d crashes\n", now, h); ncrash++; crashed[h] = 1; dl[h] = NEVER; goto done }
/* a crash in the middle of a write op: each member write not landed yet may
 * still land (it was in flight) or not */
#define CRASHLAND \
  if :: st[0] == 0 -> if :: WR(0) :: skip fi :: else fi; \
  if :: st[1] == 0 -> if :: WR(1) :: skip fi :: else fi; \
  if :: st[2] == 0 -> if :: WR(2) :: skip fi :: else fi
#if REACH == 4
#define CRASHW atomic { !ALLDONE && ncrash < NCRASH -> CRASHLAND; assert(!(wsq == 0 && nwok == 1)); ncrash++; crashed[h] = 1; dl[h] = NEVER; goto done }
#else
#define CRASHW atomic { !ALLDONE && ncrash < NCRASH -> CRASHLAND; TR2("t=%d h%d crashes mid-write\n", now, h); ncrash++; crashed[h] = 1; dl[h] = NEVER; goto done }
#endif

proctype Host(byte h) {
  bool seen[3], observing = 1;
  byte og[3], oo[3], os[3], fs[3], lo[3];       /* per member: bytes, first_seen, last_ok */
  byte st[3], wc[3], cls[3];
  byte ri, nok, tw, nwok, tc, k, g, wg, wo, wsq;
  bool slow, dead, lost;
  byte na = 0, rdec, dmask, ncount, tnext, mine;

#if SCEN == 3
  if
  :: h == 2 -> goto done          /* the crashed claimant */
  :: else
  fi;
#endif
#if SCEN == 1
  if
  :: h == 1 -> TR2("t=%d h%d holds generation 1, L = 0\n", now, h); joined[1] = 1; wg = 1; L[1] = 0; wo = 1; wsq = 0; tnext = R; dl[1] = R; goto renew
  :: else
  fi;
#endif

  /* ================= join ================= */
attempt:
  if
  :: na >= NJ -> goto done
  :: else
  fi;
observe:                /* a read op at tick ri: issued, sampled and completed in one instant */
  atomic {
       now >= ri -> read_all();
       if
       :: nok < 2 -> dead = 0
       :: else ->
          g = 0;
          if :: st[0] == 1 && og[0] > g -> g = og[0] :: else fi;
          if :: st[1] == 1 && og[1] > g -> g = og[1] :: else fi;
          if :: st[2] == 1 && og[2] > g -> g = og[2] :: else fi;
          CLASSIFY(0); CLASSIFY(1); CLASSIFY(2);
#if MUTANT == 2
          k = 0;                                      /* BUG: one member (the first-named) decides */
          dead = (cls[k] == GONE || (cls[k] == QUIET && QOLD(k)));
          k = 0;
#else
          dead = (PAIR(0, 1) || PAIR(0, 2) || PAIR(1, 2));
#endif
#if REACH == 2
          assert(!(dead && (RQ(0, 1) || RQ(0, 2) || RQ(1, 2))));
#endif
#if LIVE
          assert(dead || now <= lastland + H + LSLACK);   /* (c) */
#endif
          cls[0] = 0; cls[1] = 0; cls[2] = 0
       fi;
       if
       :: !dead -> ri++; dl[h] = ri; nok = 0; st[0] = 0; st[1] = 0; st[2] = 0; g = 0
       :: dead ->
          TR3("t=%d h%d judges DEAD (generation %d) and claims\n", now, h, g);
          assert(OTHERS_DEAD(h));                     /* (b) */
          dead = 0; rdec = ri; nok = 0;
          dmask = (st[0] == 1 -> 1 : 0) + (st[1] == 1 -> 2 : 0) + (st[2] == 1 -> 4 : 0);
          st[0] = 0; st[1] = 0; st[2] = 0;
          wg = g + 1; wo = h + NH * na; wsq = 0; na++; g = 0;
          tw = now; dl[h] = now + STALL
       fi
  }
  if
  :: wg == 0 -> goto observe
  :: else
  fi;
  /* ---- claim, after 0..STALL ticks ---- */
  atomic { now >= tw -> write_issue() }
  if
  :: CRASHW
  :: atomic {
       WRITE_DUE -> write_finish();
       ncount = 0;
#if MUTANT == 3
       if :: st[0] == 1 && (dmask & 1) -> ncount++ :: else fi;          /* BUG: no 2d check */
       if :: st[1] == 1 && (dmask & 2) -> ncount++ :: else fi;
       if :: st[2] == 1 && (dmask & 4) -> ncount++ :: else fi;
#else
       if :: st[0] == 1 && (dmask & 1) && wc[0] <= rdec + 2 * D -> ncount++ :: else fi;
       if :: st[1] == 1 && (dmask & 2) && wc[1] <= rdec + 2 * D -> ncount++ :: else fi;
       if :: st[2] == 1 && (dmask & 4) && wc[2] <= rdec + 2 * D -> ncount++ :: else fi;
#endif
       st[0] = 0; st[1] = 0; st[2] = 0; wc[0] = 0; wc[1] = 0; wc[2] = 0; nwok = 0; rdec = 0; dmask = 0;
       if
       :: ncount < 2 -> wg = 0; wo = 0; tc = 0; tw = 0; ri = now; dl[h] = now      /* start over */
       :: else -> ri = tc + J; dl[h] = ri
       fi
     }
  fi;
  if
  :: ncount < 2 -> goto attempt
  :: else -> ncount = 0
  fi;
  /* ---- wait J, verify: a read op issued at ri = tc + J ---- */
  atomic {
    now >= ri -> read_all();
    mine = 0;
    if :: st[0] == 1 && og[0] == wg && oo[0] == wo && os[0] == 0 -> mine++ :: else fi;
    if :: st[1] == 1 && og[1] == wg && oo[1] == wo && os[1] == 0 -> mine++ :: else fi;
    if :: st[2] == 1 && og[2] == wg && oo[2] == wo && os[2] == 0 -> mine++ :: else fi;
    st[0] = 0; st[1] = 0; st[2] = 0; nok = 0;
    if
    :: mine >= 2 ->
       TR3("t=%d h%d joined (generation %d)\n", now, h, wg);
       assert(OTHERS_DEAD(h));                        /* (a) */
#if REACH == 1
       assert(wg < 2);
#endif
#if REACH == 3
       assert(nclaims < 2);
#endif
       joined[h] = 1; L[h] = tw; tnext = now; dl[h] = now; tc = 0; tw = 0; ri = 0
    :: else -> wg = 0; wo = 0; tc = 0; tw = 0; ri++; dl[h] = ri
    fi
  }
  if
  :: mine >= 2 -> mine = 0; goto renew
  :: else -> goto attempt
  fi;

  /* ================= renew ================= */
renew:
  atomic {
    observing = 0;
    k = 0;
    do
    :: k < 3 -> seen[k] = 0; og[k] = 0; oo[k] = 0; os[k] = 0; fs[k] = 0; lo[k] = 0; k++
    :: else -> k = 0; break
    od
  }
  do
  :: CRASH
  :: atomic {
       /* started at tnext: its read op (one instant) and the write issue */
       now >= tnext ->
       if
       :: tnext > L[h] + F -> goto done               /* expired for good */
       :: else
       fi;
       read_all();
       lost = ((st[0] == 1 && og[0] > wg) || (st[1] == 1 && og[1] > wg) || (st[2] == 1 && og[2] > wg));
       og[0] = 0; og[1] = 0; og[2] = 0;
       if
       :: lost -> goto done                           /* a newer generation: lost */
       :: !lost && nok < 2 -> tnext = tnext + R; dl[h] = tnext; st[0] = 0; st[1] = 0; st[2] = 0   /* failed */
       :: !lost && nok >= 2 -> wsq = (wsq % (SEQMOD - 1)) + 1; write_issue()
       fi;
       nok = 0
     }
     if
     :: tw == 0 -> skip
     :: else ->
        if
        :: CRASHW
        :: atomic {
             WRITE_DUE -> write_finish();
             if
             :: nwok >= 2 && tc <= L[h] + F -> L[h] = tnext; TR3("t=%d h%d renewal OK: L = %d\n", now, h, tnext)
             :: else
             fi;
             nwok = 0; st[0] = 0; st[1] = 0; st[2] = 0; wc[0] = 0; wc[1] = 0; wc[2] = 0; tc = 0; tw = 0;
             tnext = tnext + R; dl[h] = tnext
           }
        fi
     fi
  od;
done:
  dl[h] = NEVER
}

init {
  atomic {
    byte k;
#if SCEN == 1
    k = 0;
    do
    :: k < 3 -> mg[k] = 1; mo[k] = 1; ms[k] = 0; k++
    :: else -> break
    od;
#elif SCEN == 3
    /* what a claimant that crashed in the middle of its claim leaves: its
     * claim (generation 2) on m0 only; m1, m2 still show the dead holder */
    mg[0] = 2; mo[0] = 2; ms[0] = 0;
    mg[1] = 1; mo[1] = 1; ms[1] = 5;
    mg[2] = 1; mo[2] = 1; ms[2] = 5;
    crashed[2] = 1;
#endif
    if :: bad[1] = 0 :: bad[1] = NONE fi;      /* members are symmetric */
    if :: bad[2] = 0 :: bad[2] = 1 :: bad[2] = 2 :: bad[2] = NONE fi;
#if NH >= 3
    if :: bad[3] = 0 :: bad[3] = 1 :: bad[3] = 2 :: bad[3] = NONE fi;
#endif
    TR3("t=%d bad members: h1 m%d, h2 m%d (3 = none)\n", now, bad[1], bad[2]);
    k = 1;
    do
    :: k <= NH -> dl[k] = (SCEN == 2 -> START : 0); pm[k] = NONE; pdl[k] = NEVER; run Host(k); k++
    :: else -> break
    od
  }
}
