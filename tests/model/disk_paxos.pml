/*
 * disk_paxos.pml -- Disk Paxos agreement for ONE lease instance
 * (docs/algorithms.md section 2, steps 3-8; src/lease/paxos.c sm_paxos_acquire).
 *
 * NH hosts (0..NH-1) each own one dblock per disk {mbal, bal, inp}; only host h
 * writes dblock h.  ND disks (1 or 3).  With ND == 3 one disk may be lost at any
 * moment: every later read or write of it fails.  A step (write own dblock to all
 * disks / read all dblocks of all disks) succeeds once a majority (MAJ) of disks
 * answered; the host may stop waiting for the remaining disks at that point (a
 * slow disk: its write is dropped, its read ignored).
 *
 * A ballot of host h (mbal = k*NH + h + 1, unique per host):
 *   R1  read every dblock; after a crash also recover our own (bal, inp) from the
 *       copy with the highest bal among the copies of our dblock that were read;
 *       choose mbal above every mbal seen.
 *   W1  write our dblock (mbal, own bal, own inp).
 *   R2  read every other dblock; abort if some mbal > ours; inp := input of the
 *       highest bal among all dblocks (ours included), else our own value.
 *   W2  write our dblock (mbal, bal := mbal, inp).
 *   R3  read every other dblock; abort if some mbal > ours.
 *   decide inp.
 * An abort (or a step that got fewer than MAJ disks) restarts at R1 keeping
 * memory.  A host may crash after any single-disk write (memory lost; restart at
 * R1 with recovery), also after deciding (the daemon re-runs an in-doubt
 * instance); CRASHES bounds the restarts of all hosts together.  A host that
 * stops for ever needs no modelling: it is a prefix of the runs where it is slow.
 *
 * Property (assertion): agreement -- every decision equals the first one.
 *
 * Granularity: in W1/R2/W2/R3 each per-disk write and each dblock read is one
 * atomic step, so other hosts' writes interleave between the sectors of one
 * "area read"; these steps visit the disks in a rotation starting at disk h
 * (-DANY_ORDER: any order, far larger state space).  R1 is one atomic step in any
 * disk order: it only chooses the ballot number (safety needs only uniqueness)
 * and recovers our own dblock, which no other host writes.
 * Knobs: NH, ND, KMAX (ballots per host), CRASHES, -DNO_DISK_LOSS,
 * -DNO_SLOW_DISK, -DLATE.
 *
 * -DLATE: lingering writes.  A dblock write may hang in the storage path: the
 * host gives up on it (it counts as failed) but it stays pending and may land
 * at ANY later moment (process Lander), even after the host crashed.  One
 * pending write per host.  The rule (src/disk/disk.c, lingering writes): a host
 * never writes a sector of a disk while an abandoned write of its own may still
 * land there; such a write fails at once.  Without LATE the model, like the
 * checks before it, cannot see what a late landing undoes.
 *
 * Vacuity checks (-DREACH=n, SPIN must find the "violation"): 1 two hosts
 * decide; 2 a host decides a value adopted from another host.
 *
 * Mutants (-DMUTANT=n):
 *   1  no abort check after phase 2 (R3)
 *   2  phase 2 proposes our own value instead of adopting the highest-bal input
 *   3  W1 does not keep our own (bal, inp): writes bal = 0
 *   4  a step "succeeds" with 1 disk instead of a majority (needs ND = 3)
 *   5  crash recovery takes our own (bal, inp) from the first copy read instead
 *      of the highest-bal copy (needs ND = 3)
 *   6  a host writes its dblock although an abandoned write of its own may
 *      still land there (the daemon's job workers had one handle each, and a
 *      closed handle forgot its pending writes); needs -DLATE to be seen
 */

#ifndef NH
#define NH 2
#endif
#ifndef ND
#define ND 1
#endif
#ifndef KMAX            /* ballots per host: k = 0 .. KMAX-1 */
#define KMAX 2
#endif
#ifndef CRASHES         /* restarts, all hosts together */
#define CRASHES 1
#endif
#ifndef MUTANT
#define MUTANT 0
#endif
#ifndef REACH           /* vacuity checks, must FAIL: see run.sh */
#define REACH 0
#endif

#if MUTANT == 4
#define MAJ 1
#else
#define MAJ (ND / 2 + 1)
#endif
#define ALLDISKS ((1 << ND) - 1)
#define NONE 255

typedef Block { byte mbal; byte bal; byte inp };
typedef Disk { Block b[NH] };

Disk disk[ND];
byte lost = NONE;       /* the disk that failed for ever, NONE = all good */
byte chosen = 0;        /* value of the first decision, 0 = none yet */
#if REACH == 1
byte decisions = 0;     /* number of decisions (vacuity check only) */
#endif
byte crashes = 0;       /* restarts so far, all hosts together */
#ifdef LATE
/* the pending (abandoned) write of each host: disk, and the dblock it carries */
bool pl_valid[NH];
byte pl_d[NH];
Block pl_b[NH];
#endif

/*
 * Next disk to access.  R1 (one atomic step) takes the disks in any order; the
 * other steps take them in a fixed rotation that starts at disk h (so two hosts
 * that stop after a majority use different majorities, e.g. {0,1} and {1,2}).
 * -DANY_ORDER makes every step pick any pending disk (much larger state space).
 */
#define pend_count() ((pend & 1) + ((pend >> 1) & 1) + ((pend >> 2) & 1))
inline pick_any() {
  if
  :: pend & 1 -> d = 0
  :: pend & 2 -> d = 1
  :: pend & 4 -> d = 2
  fi;
  pend = pend & ~(1 << d)
}
#ifdef ANY_ORDER
#define pick() pick_any()
#else
inline pick() {
  d = (h + ND - pend_count()) % ND;
  pend = pend & ~(1 << d)
}
#endif

/*
 * Read dblocks of disk d: all of them with own_too, else all but ours.
 * Folds mbal into maxm and the highest (bal, inp) into (bb, bi); with own_too
 * also recovers our own copy into (rb, ri, rm).  ok = false if the disk failed.
 */
inline read_disk(own_too) {
  ok = true;
  if :: h == 0 && !own_too -> j = 1 :: else -> j = 0 fi;
  do
  :: j < NH ->
     atomic {
       if
       :: lost == d -> ok = false; j = NH
       :: else ->
          if
          :: j != h ->
             if :: disk[d].b[j].mbal > maxm -> maxm = disk[d].b[j].mbal :: else fi;
             if
             :: disk[d].b[j].bal > bb -> bb = disk[d].b[j].bal; bi = disk[d].b[j].inp
             :: else
             fi
          :: j == h && own_too ->
             if :: disk[d].b[j].mbal > rm -> rm = disk[d].b[j].mbal :: else fi;
#if MUTANT == 5
             if
             :: !gotown -> rb = disk[d].b[j].bal; ri = disk[d].b[j].inp
             :: else
             fi;
#else
             if
             :: disk[d].b[j].bal > rb -> rb = disk[d].b[j].bal; ri = disk[d].b[j].inp
             :: else
             fi;
#endif
             gotown = true
          :: else
          fi;
          j++;
          if :: j == h && !own_too -> j++ :: else fi
       fi
     }
  :: j >= NH -> break
  od;
  j = 0
}

/* read from every disk, stop once a majority answered (or nothing is pending) */
inline read_all(own_too, anyorder) {
  pend = ALLDISKS; nok = 0;
  do
  :: pend == 0 -> break
  #ifndef NO_SLOW_DISK
  :: nok >= MAJ && pend != 0 -> break      /* remaining disks slow: ignored */
#endif

  :: pend != 0 ->
     if :: anyorder -> pick_any() :: else -> pick() fi;
     read_disk(own_too);
     if :: ok -> nok++ :: else fi
  od;
  pend = 0; d = 0; ok = false
}

inline crashpoint() {
  if
  :: crashes < CRASHES -> crashes++; goto crash
  :: true
  fi
}

/* write our dblock to every disk, stop once a majority answered */
inline write_all() {
  pend = ALLDISKS; nok = 0;
  do
  :: pend == 0 -> break
  #ifndef NO_SLOW_DISK
  :: nok >= MAJ && pend != 0 -> break      /* write to the slow disk dropped */
#endif

  :: pend != 0 ->
     atomic {
       pick();
       if
#if defined(LATE) && MUTANT != 6
       :: lost != d && !(pl_valid[h] && pl_d[h] == d) ->
#else
       :: lost != d ->
#endif
          disk[d].b[h].mbal = mbal; disk[d].b[h].bal = bal; disk[d].b[h].inp = inp;
          nok++
#ifdef LATE
       :: lost != d && !pl_valid[h] ->      /* hangs: counted as failed, lands later */
          pl_valid[h] = true; pl_d[h] = d;
          pl_b[h].mbal = mbal; pl_b[h].bal = bal; pl_b[h].inp = inp
#endif
       :: else                               /* lost disk, or refused: ours may land */
       fi;
       d = 0;
       crashpoint()
     }
  od;
  pend = 0; d = 0
}

proctype Host(byte h) {
  byte mbal = 0, bal = 0, inp = 0;  /* in-memory copy of our dblock */
  byte maxm, bb, bi;                /* highest mbal seen; highest (bal, inp) seen */
  byte rm, rb, ri;                  /* recovery of our own dblock after a crash */
  byte d, j, nok, pend, k;
  bool ok, gotown;
  bool fresh = false;               /* memory lost: recover from disk at R1 */

ballot:
  /* ---- R1: read everything, choose a ballot above every mbal seen ----
   * One atomic step: R1 only picks the ballot number (safety needs only that it
   * is unique) and recovers our own dblock, which nobody else writes. */
  atomic {
    maxm = mbal; bb = 0; bi = 0; rm = 0; rb = 0; ri = 0; gotown = false;
    read_all(fresh, true);
    if
    :: nok < MAJ -> goto abort          /* I/O error before W2: nothing chosen */
    :: else
    fi;
    if
    :: fresh ->
       bal = rb; inp = ri;
       if :: rm > maxm -> maxm = rm :: else fi;
       fresh = false
    :: else
    fi;
    /* smallest k with k*NH + h + 1 > maxm */
    if
    :: maxm < h + 1 -> k = 0
    :: else -> k = (maxm - h - 1) / NH + 1
    fi;
    bb = 0; bi = 0; rm = 0; rb = 0; ri = 0; gotown = false; maxm = 0
  }
  if
  :: k >= KMAX -> goto done           /* out of ballots for this bounded run */
  :: else -> mbal = k * NH + h + 1; k = 0
  fi;

  /* ---- W1: phase 1 write ---- */
#if MUTANT == 3
  bal = 0; inp = 0;
#endif
  write_all();
  if :: nok < MAJ -> goto abort :: else fi;

  /* ---- R2: read others, abort on a higher mbal, adopt highest-bal input ---- */
  maxm = 0; bb = bal; bi = inp;       /* our own dblock takes part */
  read_all(false, false);
  atomic {
    if
    :: nok < MAJ || maxm > mbal -> bb = 0; bi = 0; maxm = 0; goto abort
    :: else
    fi;
#if MUTANT == 2
    inp = h + 1;
#else
    if
    :: bb > 0 -> inp = bi
    :: else -> inp = h + 1
    fi;
#endif
    bal = mbal; bb = 0; bi = 0; maxm = 0
  }

  /* ---- W2: phase 2 write ---- */
  write_all();
  if :: nok < MAJ -> goto abort :: else fi;

  /* ---- R3: read others, abort on a higher mbal ---- */
  maxm = 0;
  read_all(false, false);
  bb = 0; bi = 0;
#if MUTANT != 1
  if
  :: nok < MAJ || maxm > mbal -> maxm = 0; goto abort
  :: else
  fi;
#endif
  maxm = 0;

  /* ---- inp is chosen ---- */
  atomic {
    assert(chosen == 0 || chosen == inp);
    chosen = inp;
#if REACH == 1
    decisions++;
    assert(decisions < 2);        /* vacuity check: two decisions happen */
#elif REACH == 2
    assert(inp == h + 1);         /* vacuity check: a host decides an adopted value */
#endif
  }
  /* the host may crash before announcing and run the instance again */
  crashpoint();
  goto done;

abort:
  goto ballot;

crash:
  atomic {
    mbal = 0; bal = 0; inp = 0; maxm = 0; bb = 0; bi = 0;
    pend = 0; d = 0; nok = 0; fresh = true
  }
  goto ballot;

done:
  skip
}

#ifdef LATE
/* The storage path gives back an abandoned write, at any moment. */
active proctype Lander() {
  byte x;
end:
  do
  :: atomic {
       x < NH && pl_valid[x] ->
       disk[pl_d[x]].b[x].mbal = pl_b[x].mbal;
       disk[pl_d[x]].b[x].bal = pl_b[x].bal;
       disk[pl_d[x]].b[x].inp = pl_b[x].inp;
       pl_valid[x] = false; x = 0
     }
  :: atomic { x + 1 < NH -> x++ }
  :: atomic { x > 0 -> x-- }
  od
}
#endif

#if ND == 3 && !defined(NO_DISK_LOSS)
active proctype DiskLoss() {
  if
  :: lost = 0
  :: lost = 1
  :: lost = 2
  fi
}
#endif

init {
  atomic {
    byte i = 0;
    do
    :: i < NH -> run Host(i); i++
    :: else -> break
    od
  }
}
