/*
 * pr_fence.pml -- fencing by SCSI-3 persistent reservations (issue 13,
 * DESIGN.md section 2 "Two things timing cannot do").  No time: the property
 * must hold however long any process is paused, which is the point of fencing
 * through the storage (a frozen host, false suspicion).
 *
 * Fence devices 0 .. ND-1: device 0 (LEASE) is the lease LUN, device 1 (DATA)
 * the data LUN the holders write.  Each device keeps the registrations of the
 * hosts' I_T nexuses and a Write Exclusive - All Registrants reservation:
 *   KEY(d, h)  the generation of host h's key registered on d, 0 = none.  A key
 *              is (host_id, generation); a registration belongs to the HOST
 *              (its I_T nexus), not to a process: a write from any process of
 *              host h is accepted iff KEY(d, h) != 0, whatever generation the
 *              writing process started under.  Reads always work.
 *   register   REGISTER AND IGNORE EXISTING KEY: KEY(d, h) = new generation,
 *              works whether or not h is registered.
 *   preempt    PREEMPT AND ABORT by host t of key (o, g): rejected with
 *              RESERVATION CONFLICT if t itself is not registered on d; else
 *              removes o's registration if it is (o, g) and discards o's
 *              commands in flight on d.  A key that is no longer registered
 *              (o has re-registered with a newer generation) is left alone and
 *              the preempt counts as done (see README: the real command answers
 *              RESERVATION CONFLICT there too, so the C code must read the keys
 *              to tell the two apart).  Each preempt is one atomic step.  A
 *              device may be unreachable for a preempt (UNREACH=1): the command
 *              fails and changes nothing.
 * The lease record (on LEASE): owner, its generation ogen, version lver.  A
 * write of it (the takeover's Disk Paxos decision, abstracted to one atomic
 * compare-and-set at version v, see disk_paxos.pml) and a delta-lease renewal
 * are writes on LEASE: rejected if the writer is not registered there.
 *
 * Hosts 0 .. NH-1 each have:
 *   Daemon  renews its delta lease (a write on LEASE); when one of its own
 *           writes (renewal, preempt, lease write) gets RESERVATION CONFLICT it
 *           is fenced: it kills its holder, waits until the holder is gone,
 *           registers generation + 1 on every device (in order) and rejoins.
 *           Takeover: at ANY time (false suspicion allowed; at most MAXT
 *           takeovers in all) it reads the lease; if the owner is another
 *           host (or an older generation of itself) it preempts the owner's
 *           key on every device in order, and only when all succeeded it
 *           writes the lease {me, gen, v + 1} if the version is still v; then
 *           its holder starts as owner of v + 1.
 *   Holder  while its host owns lease version v: decides to write (it may be
 *           frozen here for any time), issues the write to DATA (accepted iff
 *           the host is registered there: then it is in flight), and the write
 *           completes (lands) or is discarded by an abort.  A killed holder
 *           dies at any later point where it has no write in flight at the
 *           device (a process does not finish dying while its O_DIRECT I/O is
 *           in flight); it may also stop writing on its own.
 * Host 0 starts owning version 1 (its holder about to run); every host is
 * registered with generation 1 on every device.
 *
 * Property (assertion, at each write landing on DATA):
 *   SAFE  the lease version of a landing write is >= the highest version that
 *         has landed before: once a holder of version v + 1 has written, no
 *         write of a holder of version v (or older) lands.
 * Bounded progress (checked in every terminal state; runs without -E, so a
 * daemon stuck for ever is an invalid end state): once no takeover is left
 * or running, a daemon exits after a successful renewal and asserts that it
 * is registered with its current generation on every device (a fenced host
 * has rejoined).  Not an LTL liveness check: run.sh compiles with -DSAFETY.
 *
 * Options:
 *   -DNH=n          hosts (2 or 3)                   -DMAXT=n  takeovers in all
 *   -DPROGRESS=0    no progress assertion (SAFE only; end states still checked)
 *   -DUNREACH=0     no unreachable devices
 *   -DHOSTQ         a holder's write may be handed to a queue in its host (page
 *                   cache write-back, a dm-multipath queue_if_no_path queue);
 *                   the host issues it later over its own nexus, also after the
 *                   holder died.  Finding P1 (README).
 *   -DFIX_DRAIN     the fenced daemon also waits until its host's queue is empty
 *                   before registering again (the remedy for P1).
 *   -DPR_FALLBACK_WAIT  plain PREEMPT, then wait until the victim's commands in
 *                   flight on that device are gone (issue 13's fallback for
 *                   targets without PREEMPT AND ABORT; the wait is abstract).
 *   -DCONFLICT_AS_GONE  the taker reads RESERVATION CONFLICT on its own preempt
 *                   as "the victim's key is already gone" and goes on (the
 *                   ambiguity of the real command, README): a sweep point.
 *   -DTRACE         with spin -t: a readable summary of a trail.
 * Vacuity (-DREACH=n, must fail):
 *   1 a holder's write of an older version reaches DATA after a newer version
 *     landed, and is rejected (the frozen-host case)
 *   2 PREEMPT AND ABORT discards a write in flight
 *   3 a host that was fenced rejoined, took the lease back and its write landed
 *   4 a taker's own preempt is rejected (it had been preempted): it is fenced
 *   5 every daemon exited (the progress check ran) after a host was fenced
 * Seeded bugs (each must fail):
 *   -DPR_REREGISTER_EARLY  the fenced daemon registers its new key before its
 *                          holder is gone
 *   -DPR_SKIP_DATA_LUN     the taker preempts on the lease LUN only
 *   -DPR_NO_ABORT          plain PREEMPT, no abort, no wait for writes in flight
 *   -DPR_TAKE_ON_PARTIAL   the taker takes the lease although a device's preempt
 *                          failed (unreachable)
 *   -DPR_REJOIN_LEASE_ONLY the fenced daemon registers again on the lease LUN
 *                          only (caught by the progress check, not SAFE)
 */

#ifndef NH
#define NH 2
#endif
#ifndef MAXT
#define MAXT 3
#endif
#ifndef UNREACH
#define UNREACH 1
#endif
#ifndef REACH
#define REACH 0
#endif
#ifndef PROGRESS        /* 0: SAFE only (the mutants of SAFE run so) */
#define PROGRESS 1
#endif
#define ND 2
#define LEASE 0
#define DATA 1

#ifdef TRACE
#define TR2(f, a, b) printf(f, a, b)
#define TR3(f, a, b, c) printf(f, a, b, c)
#define TR4(f, a, b, c, e) printf(f, a, b, c, e)
#else
#define TR2(f, a, b) skip
#define TR3(f, a, b, c) skip
#define TR4(f, a, b, c, e) skip
#endif

byte key[ND * NH];              /* KEY(d, h): generation registered, 0 = none */
#define KEY(d, h) key[(d) * NH + (h)]
byte gen[NH];                   /* each host's current generation */
byte owner = 0, ogen = 1, lver = 1;     /* the lease record */
byte hold[NH];                  /* version handed by the daemon to its holder */
bool kill[NH], alive[NH], fenced[NH];
byte inflight[NH];              /* version of h's write in flight on DATA, 0 = none */
byte hostq[NH];                 /* HOSTQ: version of a write queued in host h */
byte maxv = 0;                  /* highest version landed on DATA */
byte tk = 0;                    /* takeovers started */
byte busy = 0;                  /* takeovers running */
byte ndone = 0;                 /* daemons exited */

#define REGISTERED(d, h) (KEY(d, h) != 0)

inline land(h, v) {
  assert(v >= maxv);                                         /* SAFE */
#if REACH == 3
  assert(!(gen[h] > 1 && v > 2));
#endif
  TR3("h%d: write of v%d landed on DATA (newest before: v%d)\n", h, v, maxv);
  maxv = v
}

/* one attempt to reach DATA with a write of version v from host h */
inline issue(h, v) {
  if
  :: REGISTERED(DATA, h) -> inflight[h] = v;
     TR2("h%d: write of v%d accepted by DATA, in flight\n", h, v)
  :: else ->
#if REACH == 1
     assert(!(v < maxv));
#endif
     TR3("h%d: write of v%d rejected by DATA (newest landed v%d)\n", h, v, maxv)
  fi
}

proctype Holder(byte h) {
  byte v;
end_idle:
  do
  :: atomic { hold[h] != 0 && !kill[h] -> v = hold[h]; hold[h] = 0; alive[h] = true }
     do
     :: skip ->                                  /* decided to write v */
        if
        :: kill[h] -> break                      /* dies before the write leaves */
        :: atomic { issue(h, v) };
           if
           :: atomic { inflight[h] != 0 -> land(h, v); inflight[h] = 0 }   /* inflight[h] == v */
           :: atomic { inflight[h] == 0 -> skip }        /* rejected or aborted */
           fi
#ifdef HOSTQ
        :: atomic { hostq[h] == 0 -> hostq[h] = v;       /* buffered: the host sends it */
                    TR2("h%d: write of v%d queued in the host\n", h, v) }
#endif
        fi
     :: kill[h] -> break                         /* dies */
     :: break                                    /* stops writing */
     od;
     atomic { alive[h] = false; TR2("h%d: holder of v%d gone\n", h, v); v = 0 }
  od
}

#ifdef HOSTQ
/* the host's own queue (write-back, multipath queueing): no process behind it */
proctype Flusher(byte h) {
  byte v;
end_idle:
  do
  :: atomic {
       hostq[h] != 0 -> v = hostq[h];
       if
       :: REGISTERED(DATA, h) -> land(h, v)
       :: else -> TR2("h%d: queued write of v%d rejected by DATA\n", h, v)
       fi;
       hostq[h] = 0; v = 0
     }
  od
}
#endif

/* REGISTER AND IGNORE EXISTING KEY with generation gen[h] on device d */
#define REGISTER(d) atomic { KEY(d, h) = gen[h]; TR3("h%d: registered g%d on d%d\n", h, gen[h], d) }

proctype Daemon(byte h) {
  byte o, og, v, d;
  bool failed;
  do
  :: fenced[h] ->
     atomic { kill[h] = true; hold[h] = 0; TR2("h%d: fenced (g%d), kills its holder\n", h, gen[h]) };
#ifdef PR_REREGISTER_EARLY
     gen[h]++;
     REGISTER(LEASE); REGISTER(DATA);
     (!alive[h]);
#else
     (!alive[h]);                                /* the holder is gone */
#if defined(HOSTQ) && defined(FIX_DRAIN)
     (hostq[h] == 0);                            /* and so is its queued I/O */
#endif
     gen[h]++;
#ifdef PR_REJOIN_LEASE_ONLY
     REGISTER(LEASE);
#else
     REGISTER(LEASE); REGISTER(DATA);
#endif
#endif
     atomic { kill[h] = false; fenced[h] = false }
  :: atomic {                                    /* renewal: a write on LEASE */
       !fenced[h] && !REGISTERED(LEASE, h) -> fenced[h] = true
     }
  :: atomic {                                    /* suspects the owner */
       !fenced[h] && tk < MAXT && !(owner == h && ogen == gen[h]) ->
       tk++; busy++; o = owner; og = ogen; v = lver;
       TR4("h%d: takeover of v%d from h%d g%d\n", h, v, o, og)
     };
     d = 0; failed = false;
     do
     :: d < ND ->
#ifdef PR_SKIP_DATA_LUN
        if :: d == DATA -> d++; goto next :: else fi;
#endif
        atomic {
          if
          :: !REGISTERED(d, h) ->                /* RESERVATION CONFLICT: preempted */
#ifdef CONFLICT_AS_GONE
             skip;                               /* misread: "the victim's key is gone" */
#else
             fenced[h] = true; failed = true;
#endif
#if REACH == 4
             assert(false);
#endif
             TR2("h%d: own preempt rejected on d%d\n", h, d)
          :: REGISTERED(d, h) ->
             if
             :: KEY(d, o) == og -> KEY(d, o) = 0;
#if REACH == 2
                assert(!(d == DATA && inflight[o] != 0));
#endif
#if !defined(PR_NO_ABORT) && !defined(PR_FALLBACK_WAIT)
                if :: d == DATA -> inflight[o] = 0 :: else fi;      /* ABORT */
#endif
                TR4("h%d: preempted h%d g%d on d%d\n", h, o, og, d)
             :: else
             fi
#if UNREACH
          :: true -> failed = true; TR2("h%d: d%d unreachable\n", h, d)
#endif
          fi
        };
#ifdef PR_FALLBACK_WAIT
        if
        :: !failed && d == DATA -> (inflight[o] == 0)    /* abstract: the documented wait */
        :: else
        fi;
#endif
        if
        :: failed && !fenced[h] ->               /* unreachable: give up */
#ifdef PR_TAKE_ON_PARTIAL
           failed = false; d++
#else
           break
#endif
        :: failed && fenced[h] -> break
        :: !failed -> d++
        fi;
next:   skip
     :: d >= ND -> break
     od;
     atomic {
       if
       :: failed -> skip
       :: !failed && !REGISTERED(LEASE, h) -> fenced[h] = true
       :: !failed && REGISTERED(LEASE, h) ->
          if
          :: lver == v -> owner = h; ogen = gen[h]; lver = v + 1; hold[h] = lver;
             TR3("h%d: owns v%d (g%d)\n", h, lver, ogen)
          :: else                                  /* another taker was first */
          fi
       fi;
       assert(busy > 0); busy--; o = 0; og = 0; v = 0; d = 0; failed = false
     }
  :: atomic {                                    /* quiet: a last renewal, then exit */
       !fenced[h] && tk >= MAXT && busy == 0 && REGISTERED(LEASE, h) -> break
     }
  od;
  atomic {
    d = 0;
    do
    :: d < ND -> assert(!PROGRESS || KEY(d, h) == gen[h]); d++   /* rejoined everywhere */
    :: d >= ND -> break
    od;
    ndone++
  }
}

init {
  byte h;
  atomic {
    h = 0;
    do
    :: h < NH ->
       gen[h] = 1; KEY(LEASE, h) = 1; KEY(DATA, h) = 1;
       run Daemon(h); run Holder(h);
#ifdef HOSTQ
       run Flusher(h);
#endif
       h++
    :: h >= NH -> break
    od;
    hold[0] = 1
  };
  (ndone == NH);
#if REACH == 5
  assert(!(gen[0] > 1 || gen[1] > 1));
#endif
  skip
}
