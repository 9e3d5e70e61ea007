/* The daemon's owners (issue 16): the lease table (leasetab.c) keeps its
 * counts and its lockspace references; a job's references go through
 * jobs.c; fencing changes a lockspace's state through lockspaces.c.  Built
 * on daemon_init() and daemon_wire(), with lockspace entries that no thread runs. */
#include "testutil.h"

#include "daemon/daemon.h"
#include "daemon/jobs.h"
#include "daemon/leasetab.h"
#include "daemon/lockspaces.h"
#include "daemon/procs.h"
#include "daemon/wiring.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static struct daemon d;
static struct ls_entry *ls_a, *ls_b;
static struct proc p1, p2;

static struct ls_entry *fake_lockspace(const char *name)
{
	struct ls_entry *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->d = &d;
	e->refs = 1; /* the list's */
	e->state = LS_JOINED;
	e->to.kill_grace_ms = 2000;
	snprintf(e->name, sizeof(e->name), "%s", name);
	return e;
}

static int group_setup(void **state)
{
	(void)state;
	if (daemon_init(&d) < 0)
		return -1;
	daemon_wire(&d);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	close(d.epfd);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	ls_a = fake_lockspace("a");
	ls_b = fake_lockspace("b");
	p1 = (struct proc){.d = &d, .pid = 101};
	p2 = (struct proc){.d = &d, .pid = 102};
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	lease_drop_all(&d);
	assert_int_equal(ls_a->refs, 1);
	assert_int_equal(ls_b->refs, 1);
	free(ls_a);
	free(ls_b);
	return 0;
}

static void a_lease_record_holds_its_lockspace_until_dropped(void **state)
{
	(void)state;
	struct lease *l = lease_new(&d, ls_a, "r1");
	assert_non_null(l);
	assert_int_equal(ls_a->refs, 2);
	assert_ptr_equal(lease_find(&d, ls_a, "r1"), l);
	assert_null(lease_find(&d, ls_b, "r1")); /* the same name in another lockspace is another lease */
	assert_null(lease_find(&d, ls_a, "r2"));
	lease_drop(&d, l);
	assert_int_equal(ls_a->refs, 1);
	assert_null(lease_find(&d, ls_a, "r1"));
	assert_null(d.lt.head);
}

static void holders_are_counted_per_process_and_in_the_table(void **state)
{
	(void)state;
	struct lease *l = lease_new(&d, ls_a, "r1");
	assert_int_equal(lease_add_holder(l, &p1, SM_MODE_SH), 0);
	assert_int_equal(lease_add_holder(l, &p2, SM_MODE_SH), 0);
	assert_int_equal(p1.nleases, 1);
	assert_int_equal(p2.nleases, 1);
	assert_int_equal(d.lt.nheld, 2);
	assert_non_null(lease_holder(l, &p1));
	bool last = true;
	lease_remove_holder(&d, l, &p1, &last);
	assert_false(last);
	assert_null(lease_holder(l, &p1));
	assert_int_equal(p1.nleases, 0);
	assert_int_equal(d.lt.nheld, 1);
	/* dropping a record with holders takes their counts with it */
	lease_drop(&d, l);
	assert_int_equal(p2.nleases, 0);
	assert_int_equal(d.lt.nheld, 0);
}

static int count_holds(const struct proc *p, const struct lease *l)
{
	int n = 0;
	for (const struct holder *h = p->holds; h; h = h->pnext) {
		assert_ptr_equal(h->proc, p);
		n += !l || h->lease == l;
	}
	return n;
}

/* Issue 19: a process's leases are on its own list (inquire and release
 * walk it, not every lease of the host), kept by leasetab.c alone. */
static void a_process_lists_its_own_holds(void **state)
{
	(void)state;
	struct lease *l1 = lease_new(&d, ls_a, "r1"), *l2 = lease_new(&d, ls_b, "r2");
	assert_int_equal(lease_add_holder(l1, &p1, SM_MODE_SH), 0);
	assert_int_equal(lease_add_holder(l1, &p2, SM_MODE_SH), 0);
	assert_int_equal(lease_add_holder(l2, &p1, SM_MODE_EX), 0);
	assert_int_equal(count_holds(&p1, NULL), 2);
	assert_int_equal(count_holds(&p1, l1), 1);
	assert_int_equal(count_holds(&p1, l2), 1);
	assert_int_equal(count_holds(&p2, NULL), 1);
	bool last;
	lease_remove_holder(&d, l1, &p1, &last);
	assert_int_equal(count_holds(&p1, NULL), 1);
	assert_int_equal(count_holds(&p1, l2), 1);
	lease_drop(&d, l2); /* drops p1's last hold with it */
	assert_null(p1.holds);
	assert_int_equal(p1.nleases, 0);
	assert_int_equal(count_holds(&p2, l1), 1);
	lease_drop(&d, l1);
	assert_null(p2.holds);
}

/* Issue 19: processes are found by pid through a hash; a refusal at
 * max_clients names the setting, not "message too large". */
static void processes_are_found_by_pid_and_refusals_say_why(void **state)
{
	(void)state;
	pid_t kid = fork();
	if (kid == 0) {
		pause();
		_exit(0);
	}
	int err;
	struct proc *self = proc_register(&d, getpid(), "self", NULL, false, &err);
	assert_non_null(self);
	struct proc *child = proc_register(&d, kid, "child", NULL, false, &err);
	assert_non_null(child);
	assert_ptr_equal(proc_find(&d, getpid()), self);
	assert_ptr_equal(proc_find(&d, kid), child);
	assert_null(proc_find(&d, 1));
	assert_null(proc_register(&d, getpid(), "again", NULL, false, &err));
	assert_int_equal(err, -SM_EBUSY);
	uint64_t max = d.cfg.max_clients;
	d.cfg.max_clients = 2;
	assert_null(proc_register(&d, 1, "third", NULL, false, &err));
	assert_int_equal(err, -SM_ETOO_BIG);
	char why[200];
	assert_non_null(strstr(proc_refusal(&d, err, why, sizeof(why)), "max_clients (2) reached"));
	assert_non_null(strstr(proc_refusal(&d, -EMFILE, why, sizeof(why)), "file descriptor limit (RLIMIT_NOFILE"));
	d.cfg.max_clients = max;
	proc_forget(self);
	assert_null(proc_find(&d, getpid()));
	assert_ptr_equal(proc_find(&d, kid), child);
	assert_ptr_equal(d.procs, child);
	assert_int_equal(d.nprocs, 1);
	proc_forget(child);
	assert_null(d.procs);
	assert_int_equal(d.nprocs, 0);
	proc_free_dead(&d);
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
}

static void a_job_references_its_leases_and_lockspaces_through_jobs_c(void **state)
{
	(void)state;
	struct lease *l = lease_new(&d, ls_a, "r1");
	struct job *j = job_new(JOB_RELEASE, 1);
	assert_non_null(j);
	job_res_set_ls(&j->res[0], ls_a);
	assert_int_equal(ls_a->refs, 3); /* list, lease record, job */
	job_res_bind_lease(&j->res[0], l);
	assert_int_equal(l->jobs, 1);
	assert_ptr_equal(job_res_unbind_lease(&j->res[0]), l);
	assert_int_equal(l->jobs, 0);
	assert_null(job_res_unbind_lease(&j->res[0]));
	assert_int_equal(l->jobs, 0);
	job_free(j);
	assert_int_equal(ls_a->refs, 2);
	lease_drop(&d, l);
}

static void fencing_changes_the_lockspace_through_its_owner(void **state)
{
	(void)state;
	assert_true(ls_start_fencing(ls_b));
	assert_int_equal(ls_b->state, LS_FAILED);
	assert_true(ls_b->fencing);
	uint64_t t0 = ls_b->fence_started_mono;
	assert_false(ls_start_fencing(ls_b)); /* already: nothing changes */
	assert_int_equal(ls_b->fence_started_mono, t0);
	assert_false(ls_fence_grace_over(ls_b, t0 + 1999));
	assert_true(ls_fence_grace_over(ls_b, t0 + 2000));
	assert_false(ls_fence_grace_over(ls_b, t0 + 5000)); /* once */
	assert_true(ls_b->sigkill_sent);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_lease_record_holds_its_lockspace_until_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(holders_are_counted_per_process_and_in_the_table, setup, teardown),
		cmocka_unit_test_setup_teardown(a_process_lists_its_own_holds, setup, teardown),
		cmocka_unit_test_setup_teardown(processes_are_found_by_pid_and_refusals_say_why, setup, teardown),
		cmocka_unit_test_setup_teardown(a_job_references_its_leases_and_lockspaces_through_jobs_c, setup,
						teardown),
		cmocka_unit_test_setup_teardown(fencing_changes_the_lockspace_through_its_owner, setup, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
