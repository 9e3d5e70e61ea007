/*
 * caw.pml -- atomic leases with SCSI COMPARE AND WRITE (issue 14; DESIGN.md
 * section 2 "Atomic leases").  No time, as in pr_fence.pml: any process may be
 * paused anywhere (a host stalled between its read and its CAW is just an
 * interleaving), and "the owner is dead" is an oracle: the owner crashed (its
 * holders with it), or it was preempted (fencing by reservation), or, with
 * CAW_NO_H_TAKEOVER, anything.  timing.pml checks that waiting more than H
 * after the last change of the owner's record implies the first; pr_fence.pml
 * that a preempted host's writes are refused.
 *
 * The device: one sector (the lease's leader sector, SCEN=1, or one host_id
 * slot of the host area, SCEN=2), `disk`, an encoded image.  A command of host
 * h is issued (pst[h] = ISSUED) and executed by Device at any later moment:
 *   COMPARE AND WRITE(exp, new)  atomically: disk == exp ? disk = new, GOOD
 *                                : MISCOMPARE (the sector untouched)
 *   WRITE(new)                   (the CAW_BLIND_WRITE mutant only)
 * A command of a preempted host (fenced[h]) is rejected with RESERVATION
 * CONFLICT.  A command of a host with a unit attention pending (uapend[h], set
 * for every host by a target event, NUA in all) is rejected with UNIT
 * ATTENTION and not executed; the disk layer sends it again.  A host waiting
 * for its command may give up on it (a timeout, NLATE in all): the command is
 * abandoned but stays pending and may still execute at any later moment (or
 * be dropped); its outcome is lost.  As the disk layer does for writes, a host
 * never sends a command to the sector while one of its own abandoned ones may
 * still execute (it waits for the kernel to complete it).  A crashed host's
 * pending command may execute after the crash.
 *
 * The defect (-DCAW_BROKEN_AFTER_REJECT, LIO in Linux 6.1, docs/lab.md): once
 * any CAW was rejected (conflict or unit attention), the device's CAWs are no
 * longer atomic: a CAW compares in one step and writes in a later one, so two
 * CAWs can both compare equal and both write.
 *
 * SCEN=1, a resource lease.  Image {lver, own, sh}: own = 1 + the EX owner's
 * host or 0; sh = bitmap of the SH holders.  Each host does up to NOPS
 * acquires (EX or SH), each followed by its release:
 *   acquire   read the sector if the host has no image from its last I/O; if
 *             the image allows it, CAW(image -> {lver + 1, ...}); GOOD: held at
 *             lver + 1; MISCOMPARE: read and decide again (NTRY tries).
 *     EX      allowed if own is free, ours (an acquire of ours that timed out
 *             and landed) or dead, and every other SH bit belongs to a dead
 *             host; new {lver + 1, me, sh 0}.  EX waits (gives up, retries in
 *             a later operation) while a live SH holder's bit is set.
 *     SH      allowed if own is free, ours or dead; new {lver + 1, 0, sh | me}.
 *     With -DPR a live owner or SH holder may be preempted (NPRE in all; a
 *     false suspicion is allowed) instead of waiting: it is dead from then on.
 *   release   the holder stops, then CAW(image -> {lver, 0, sh}) (EX) or the
 *             image without our bit (SH; MISCOMPARE: read and again, other SH
 *             holders change the image).  lver is kept.
 *   timeout   the outcome is unknown: the host drops its image (the next
 *             operation reads first) and never uses the lease; an image that
 *             names it later is taken as free by its own next acquire.
 * The images of one sector never repeat: lver grows by one per acquire, and
 * within one lver only releases happen, each clearing an owner or a bit.  So a
 * CAW (on time or late) succeeds only if nothing was written since the image
 * it compares against.
 *
 * SCEN=2, a delta lease (one host_id slot).  Image {gen, who, seq}:
 *   join      read; free: CAW(image -> {gen + 1, me, 0}), GOOD = the host_id is
 *             ours, no 2d wait; MISCOMPARE: busy.  Held by a dead host (after
 *             H or a preemption): the same CAW.  Held by a live host: busy.
 *   renew     CAW(our last record -> seq + 1), NREN per ownership; MISCOMPARE:
 *             the lockspace is lost; timeout: wait until the abandoned CAW is
 *             done, read: our last or our attempted record -> go on from it,
 *             anything else -> lost.
 *   leave     CAW(our last record -> {gen, free}).
 *
 * Properties (assertions):
 *   EXCL   (SCEN=1) an EX grant finds no other live, unfenced holder (EX or
 *          SH); an SH grant finds no live, unfenced EX holder.
 *   LVER   (SCEN=1) no lver is granted twice: one owner per lver (lver + 1
 *          per acquire, as Disk Paxos does).
 *   HOSTID (SCEN=2) a join finds no other live, unfenced owner of the host_id;
 *          no generation is granted twice.
 *   OWN    a live, unfenced holder's release or renewal never miscompares.
 *
 * Options: -DSCEN=1|2  -DNH=n hosts  -DNOPS=n operations per host
 *   -DNCRASH=n crashes in all  -DNLATE=n timeouts in all  -DNUA=n target events
 *   -DPR (preemption, NPRE in all)  -DNTRY=n tries per acquire  -DNREN=n
 *   -DFIX_PROBE  a TEST UNIT READY-like probe before every CAW: a conflict or a
 *                unit attention is taken by the probe, never by the CAW
 * Vacuity (-DREACH=n, must fail):
 *   1 a late (abandoned) CAW executes and matches     2 a late CAW miscompares
 *   3 a lease/host_id is taken from a dead owner      4 an EX acquire waits for
 *     a live SH holder and later gets EX               5 two acquirers race: one
 *     miscompares, the other holds                     6 a CAW is rejected
 * Seeded bugs (must fail):
 *   CAW_BLIND_WRITE      acquire/join with a plain WRITE instead of a CAW
 *   CAW_STALE_COMPARE=2  after a miscompare, the new image is derived from the
 *                        image read before it (the compare buffer is fresh)
 *   CAW_STALE_COMPARE=1  (sweep, passes) the compare buffer is the old image:
 *                        it only miscompares again
 *   CAW_NO_H_TAKEOVER    an owner is taken as dead without H or preemption
 *   CAW_SH_NO_BITMAP     EX ignores the SH holders' bitmap
 */

#ifndef SCEN
#define SCEN 1
#endif
#ifndef NH
#define NH 2
#endif
#ifndef NOPS
#define NOPS 2
#endif
#ifndef NCRASH
#define NCRASH 1
#endif
#ifndef NLATE
#define NLATE 1
#endif
#ifndef NUA
#define NUA 0
#endif
#ifndef NPRE
#define NPRE 1
#endif
#ifndef NTRY
#define NTRY 2
#endif
#ifndef NREN
#define NREN 2
#endif
#ifndef REACH
#define REACH 0
#endif
#ifndef CHECK_OWN       /* 0: no OWN assertion (mutants shown caught by EXCL/HOSTID/LVER) */
#define CHECK_OWN 1
#endif
#ifndef CAW_STALE_COMPARE
#define CAW_STALE_COMPARE 0
#endif

/* command states and results */
#define IDLE 0
#define ISSUED 1
#define COMPARED 2      /* broken device: compared, not yet written */
#define DONE 3
#define GOOD 1
#define MISC 2
#define CONFL 3
#define UATT 4
#define TIMEOUT 5

/* SCEN=1 image: lver * 32 + own * 8 + sh;  SCEN=2 image: gen * 16 + who * 4 + seq */
#define MK(l, o, s)  ((l) * 32 + (o) * 8 + (s))
#define LV(i)   ((i) / 32)
#define OWN(i)  (((i) / 8) % 4)
#define SHB(i)  ((i) % 8)
#define MKD(g, w, q) ((g) * 16 + (w) * 4 + (q))
#define GEN(i)  ((i) / 16)
#define WHO(i)  (((i) / 4) % 4)
#define SEQ(i)  ((i) % 4)
#define BIT(h)  (1 << (h))

short disk = 0;                 /* both scenarios start free at lver / gen 0 */
byte pst[NH], pres[NH];         /* each host's command: state, result */
short pexp[NH], pnew[NH];
bool pcaw[NH], cmatch[NH], abandoned[NH];
bool uapend[NH];
bool dead[NH], fenced[NH];
byte mode[NH];                  /* 0 none, 1 EX, 2 SH (SCEN=2: 1 = owns the host_id) */
bool broken = false;
byte nlate = NLATE, ncrash = NCRASH, nua = NUA, npre = NPRE;
#define MAXV 12
bool granted[MAXV];             /* lvers (SCEN=1) / generations (SCEN=2) granted so far */
bool sawsh = false;             /* REACH 4 */
bool waited[NH];                /* REACH 4 */

#define LIVE(x) (mode[x] != 0 && !dead[x] && !fenced[x])
#define GONE(x) (dead[x] || fenced[x])

inline rejected() {
#ifdef CAW_BROKEN_AFTER_REJECT
  if :: pcaw[x] -> broken = true :: else fi;
#endif
#if REACH == 6
  assert(false);
#endif
  skip
}

inline complete(res) {
  pres[x] = res;
  if
  :: abandoned[x] ->
#if REACH == 1
     assert(res != GOOD);
#endif
#if REACH == 2
     assert(res != MISC);
#endif
     abandoned[x] = false; pst[x] = IDLE
  :: else -> pst[x] = DONE
  fi
}

/* The storage, for the commands of host x: executes them at any moment. */
proctype Device(byte x) {
end_dev:
  do
  :: atomic {
       pst[x] == ISSUED ->
       if
       :: fenced[x] -> complete(CONFL); rejected()
       :: !fenced[x] && uapend[x] -> uapend[x] = false; complete(UATT); rejected()
       :: !fenced[x] && !uapend[x] && !pcaw[x] -> disk = pnew[x]; complete(GOOD)
       :: !fenced[x] && !uapend[x] && pcaw[x] && !broken ->
          if
          :: disk == pexp[x] -> disk = pnew[x]; complete(GOOD)
          :: else -> complete(MISC)
          fi
       :: !fenced[x] && !uapend[x] && pcaw[x] && broken ->    /* the compare half */
          cmatch[x] = (disk == pexp[x]); pst[x] = COMPARED
       :: abandoned[x] -> abandoned[x] = false; pst[x] = IDLE  /* dropped */
       fi
     }
  :: atomic {                                                  /* the write half */
       pst[x] == COMPARED ->
       if
       :: cmatch[x] -> disk = pnew[x]; complete(GOOD)
       :: else -> complete(MISC)
       fi
     }
  :: atomic {                                                  /* target reset: UA for all */
       x == 0 && nua > 0 -> nua--;
       uapend[0] = true; uapend[1] = true;
#if NH > 2
       uapend[2] = true;
#endif
       skip
     }
  od
}

/* One COMPARE AND WRITE (or WRITE) from host h; result in r.  UNIT ATTENTION
 * is sent again (the disk layer's bounded retry; NUA bounds it here). */
inline send(e, n, iscaw) {
  (pst[h] == IDLE);             /* our abandoned command is done */
  r = 0;
#ifdef FIX_PROBE
  atomic {                      /* a probe first: takes a UA or a conflict */
    if
    :: fenced[h] -> r = CONFL
    :: else -> uapend[h] = false
    fi
  };
#endif
  if
  :: r == 0 ->
     atomic { pexp[h] = e; pnew[h] = n; pcaw[h] = iscaw; pst[h] = ISSUED };
     do
     :: atomic { pst[h] == DONE && pres[h] == UATT -> pst[h] = ISSUED }
     :: atomic { pst[h] == DONE && pres[h] != UATT -> r = pres[h]; pst[h] = IDLE; break }
     :: atomic { (pst[h] == ISSUED || pst[h] == COMPARED) && nlate > 0 ->
                 nlate--; abandoned[h] = true; r = TIMEOUT; break }
     od
  :: else
  fi
}

#if SCEN == 1
/* ---------------------------------------------------------------- resource lease */

inline grant(m) {
  atomic {
    x = 0;
    do
    :: x < NH ->
       if                       /* EXCL (a grant to a preempted host is never used) */
       :: x != h && !fenced[h] -> assert(!LIVE(x) || (m == 2 && mode[x] == 2))
       :: else
       fi;
       x++
    :: x >= NH -> break
    od;
    assert(LV(nw) < MAXV && !granted[LV(nw)]);                                    /* LVER */
    granted[LV(nw)] = true; mode[h] = m;
#if REACH == 4
    assert(!(m == 1 && waited[h]));
#endif
    x = 0
  }
}

/* may host h acquire in mode m over image k?  sets ok; with PR may preempt */
inline decide(m, k) {
  ok = true;
  o = OWN(k);
  if
  :: o != 0 && o != h + 1 && !GONE(o - 1) ->
#ifdef CAW_NO_H_TAKEOVER
     skip
#else
     if
#ifdef PR
     :: atomic { npre > 0 -> npre--; fenced[o - 1] = true;          /* PREEMPT AND ABORT */
                 if :: pst[o - 1] == ISSUED -> x = o - 1; complete(CONFL); x = 0 :: else fi }
#endif
     :: ok = false
     fi
#endif
  :: else
  fi;
#ifndef CAW_SH_NO_BITMAP
  if
  :: ok && m == 1 ->
     x = 0;
     do
     :: x < NH ->
        if
        :: x != h && (SHB(k) & BIT(x)) && !GONE(x) ->
#ifdef CAW_NO_H_TAKEOVER
           skip
#else
           if
#ifdef PR
           :: atomic { npre > 0 -> npre--; fenced[x] = true;
                       if :: pst[x] == ISSUED -> complete(CONFL) :: else fi }
#endif
           :: ok = false; waited[h] = true
           fi
#endif
        :: else
        fi;
        x++
     :: x >= NH -> break
     od;
     x = 0
  :: else
  fi;
#endif
  o = 0
}

proctype Host(byte h) {
  short known, prev, nw;
  bool have = false, ok;
  byte ops = 0, tries, m, o, x, r;
  do
  :: atomic { ncrash > 0 -> ncrash--; dead[h] = true; break }
  :: ops < NOPS && mode[h] == 0 && !fenced[h] ->
     ops++;
     if :: m = 1 :: m = 2 fi;
     if :: !have -> known = disk; have = true :: else fi;
     prev = known;
     tries = NTRY;
     do
     :: decide(m, known);
        if
        :: !ok -> break                               /* held: try again later */
        :: else
        fi;
#if CAW_STALE_COMPARE == 2
        if
        :: m == 1 -> nw = MK(LV(prev) + 1, h + 1, 0)
        :: m == 2 -> nw = MK(LV(prev) + 1, 0, SHB(prev) | BIT(h))
        fi;
#else
        if
        :: m == 1 -> nw = MK(LV(known) + 1, h + 1, 0)
        :: m == 2 -> nw = MK(LV(known) + 1, 0, SHB(known) | BIT(h))
        fi;
#endif
#if CAW_STALE_COMPARE == 1
        send(prev, nw, true);
#elif defined(CAW_BLIND_WRITE)
        send(known, nw, false);
#else
        send(known, nw, true);
#endif
        if
        :: r == GOOD ->
#if REACH == 3
           assert(!(OWN(known) != 0 && OWN(known) != h + 1 && dead[OWN(known) - 1]));
#endif
#if REACH == 5
           assert(!(tries < NTRY));
#endif
           grant(m); known = nw; break
        :: r == MISC ->
           prev = known; known = disk; tries--;       /* read, decide again */
           if :: tries == 0 -> break :: else fi
        :: r == CONFL -> have = false; break           /* fenced */
        :: r == TIMEOUT -> have = false; break         /* in doubt: never used */
        fi
     od;
     prev = 0; nw = 0; tries = 0; m = 0
  :: mode[h] != 0 ->                                   /* release */
     m = mode[h]; mode[h] = 0;                         /* the holder stops first */
     do
     :: if
        :: m == 1 -> nw = MK(LV(known), 0, SHB(known))
        :: m == 2 -> nw = MK(LV(known), OWN(known), SHB(known) & (7 - BIT(h)))
        fi;
        send(known, nw, true);
        if
        :: r == GOOD -> known = nw; break
        :: r == MISC && m == 2 ->                      /* other SH holders came or went */
           known = disk;
           if :: !(SHB(known) & BIT(h)) -> break :: else fi
        :: r == MISC && m == 1 ->
           assert(!CHECK_OWN || fenced[h]);            /* OWN */
           have = false; break
        :: r == CONFL || r == TIMEOUT -> have = false; break
        fi
     od;
     nw = 0; m = 0
  :: fenced[h] && mode[h] == 0 && pst[h] == IDLE ->    /* fenced, holders gone: register again */
     fenced[h] = false; have = false
  :: ops >= NOPS && mode[h] == 0 -> break
  od
}

#else
/* ---------------------------------------------------------------- delta lease */

inline joined() {
  atomic {
    x = 0;
    do
    :: x < NH -> assert(x == h || fenced[h] || !LIVE(x)); x++       /* HOSTID */
    :: x >= NH -> break
    od;
    assert(GEN(nw) < MAXV && !granted[GEN(nw)]); granted[GEN(nw)] = true;
    mode[h] = 1; x = 0
  }
}

proctype Host(byte h) {
  short known, nw, mine;
  bool ok;
  byte ops = 0, ren = 0, x, r, w;
  do
  :: atomic { ncrash > 0 -> ncrash--; dead[h] = true; break }
  :: ops < NOPS && mode[h] == 0 && !fenced[h] ->      /* join */
     ops++;
     (pst[h] == IDLE);
     known = disk;
     w = WHO(known);
     ok = (w == 0 || w == h + 1 || GONE(w - 1));
#ifdef CAW_NO_H_TAKEOVER
     ok = true;
#endif
#ifdef PR
     if
     :: atomic { !ok && npre > 0 -> npre--; fenced[w - 1] = true; ok = true;
                 if :: pst[w - 1] == ISSUED -> x = w - 1; complete(CONFL); x = 0 :: else fi }
     :: else
     fi;
#endif
     if
     :: ok ->
        nw = MKD(GEN(known) + 1, h + 1, 0);
#ifdef CAW_BLIND_WRITE
        send(known, nw, false);
#else
        send(known, nw, true);
#endif
        if
        :: r == GOOD ->
#if REACH == 3
           assert(!(w != 0 && w != h + 1 && dead[w - 1]));
#endif
           joined(); mine = nw; ren = 0
        :: else ->                                     /* busy, fenced or in doubt */
#if REACH == 5
           assert(!(r == MISC && w == 0));
#endif
           skip
        fi
     :: else
     fi;
     w = 0; nw = 0; known = 0
  :: mode[h] == 1 && ren < NREN ->                     /* renew */
     ren++;
     nw = MKD(GEN(mine), h + 1, SEQ(mine) + 1);
     send(mine, nw, true);
     if
     :: r == GOOD -> mine = nw
     :: r == MISC -> assert(!CHECK_OWN || fenced[h]); mode[h] = 0    /* OWN; lost */
     :: r == CONFL -> mode[h] = 0
     :: r == TIMEOUT ->
        (pst[h] == IDLE);                              /* the abandoned CAW is done */
        if
        :: disk == mine || disk == nw -> mine = disk
        :: else -> mode[h] = 0                         /* lost */
        fi
     fi;
     nw = 0
  :: mode[h] == 1 ->                                   /* leave */
     mode[h] = 0;
     send(mine, MKD(GEN(mine), 0, 0), true);
     mine = 0
  :: fenced[h] && mode[h] == 0 && pst[h] == IDLE -> fenced[h] = false
  :: ops >= NOPS && mode[h] == 0 -> break
  od
}
#endif

init {
  byte i;
  atomic {
    i = 0;
    do
    :: i < NH -> run Host(i); run Device(i); i++
    :: i >= NH -> break
    od
  }
}
