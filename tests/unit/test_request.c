/* The request layer (issue 16 item 2): a request payload is decoded once
 * into struct sm_wire_req (src/proto/request.c), with the client library's
 * encoders; malformed fields are refused with why; and the daemon's one
 * reply path (conn_reply) persists the state before any byte of a reply
 * leaves, for every handler.  The daemon half runs on daemon_init() and
 * daemon_wire() with a fake persist hook that records what it saw when it
 * was called. */
#include "testutil.h"

#include "daemon/conn.h"
#include "daemon/daemon.h"
#include "daemon/leasetab.h"
#include "daemon/procs.h"
#include "daemon/state.h"
#include "daemon/wiring.h"
#include "proto/request.h"

#include "common/le.h"
#include "common/log.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the decoder ---------------------------------------------------------- */

static int decode(uint16_t cmd, struct sm_msgbuf *b, struct sm_wire_req *rq, char *why)
{
	int rc = sm_wire_req_decode(cmd, 0, b->data + SM_PROTO_HDR, b->len - SM_PROTO_HDR, rq, why, 200);
	sm_mb_free(b);
	return rc;
}

static void resources_and_kill_round_trip(void **state)
{
	(void)state;
	struct sm_resource a = {.lockspace = "ls1", .name = "r1", .mode = SM_SHARED, .at_version = true, .version = 7};
	struct sm_resource v = {.name = "r2", .nlocations = 1, .location = {"/dev/x:1048576"}};
	const char *args[] = {"--now", "vm1"};
	struct sm_msgbuf b;
	sm_mb_init(&b);
	sm_mb_u32(&b, SM_T_PID, 4242);
	sm_req_put_resource(&b, &a, 0);
	sm_req_put_resource(&b, &v, 0);
	sm_req_put_kill(&b, 9, "/bin/true", args, 2);
	struct sm_wire_req rq;
	char why[200] = "";
	assert_int_equal(decode(SM_CMD_ACQUIRE, &b, &rq, why), 0);
	assert_int_equal(rq.cmd, SM_CMD_ACQUIRE);
	assert_true(rq.present & SM_RQ_PID);
	assert_int_equal(rq.pid, 4242);
	assert_int_equal(rq.nres, 2);
	assert_string_equal(rq.res[0].lockspace, "ls1");
	assert_string_equal(rq.res[0].name, "r1");
	assert_int_equal(rq.res[0].mode, SM_SHARED);
	assert_true(rq.res[0].at_version);
	assert_int_equal(rq.res[0].version, 7);
	assert_int_equal(rq.res[1].nlocations, 1);
	assert_string_equal(rq.res[1].location[0], "/dev/x:1048576");
	assert_int_equal(rq.res[1].mode, SM_EXCLUSIVE);
	assert_int_equal(rq.kill.signal, 9);
	assert_string_equal(rq.kill.path, "/bin/true");
	assert_int_equal(rq.kill.nargs, 2);
	assert_string_equal(rq.kill.args[1], "vm1");
	sm_wire_req_free(&rq);
	assert_null(rq.res);
}

static void first_value_wins_and_unknown_tags_are_ignored(void **state)
{
	(void)state;
	struct sm_msgbuf b;
	sm_mb_init(&b);
	sm_mb_str(&b, SM_T_LOCKSPACE, "first");
	sm_mb_u32(&b, 999, 1); /* a newer client's field */
	sm_mb_str(&b, SM_T_LOCKSPACE, "second");
	sm_mb_u64(&b, SM_T_CURSOR, 12);
	struct sm_wire_req rq;
	char why[200];
	assert_int_equal(decode(SM_CMD_HOSTS, &b, &rq, why), 0);
	assert_string_equal(rq.lockspace, "first");
	assert_true(rq.present & SM_RQ_CURSOR);
	assert_int_equal(rq.cursor, 12);
	assert_false(rq.present & SM_RQ_NAME);
	sm_wire_req_free(&rq);
}

static void malformed_fields_are_refused_naming_the_field(void **state)
{
	(void)state;
	struct sm_msgbuf b;
	struct sm_wire_req rq;
	char why[200];

	sm_mb_init(&b);
	sm_mb_u64(&b, SM_T_PID, 1); /* 8 bytes where 4 belong */
	assert_int_equal(decode(SM_CMD_ACQUIRE, &b, &rq, why), -SM_EPROTO);
	assert_non_null(strstr(why, "PID"));

	sm_mb_init(&b);
	sm_mb_str(&b, SM_T_NAME, "bad\nname");
	assert_int_equal(decode(SM_CMD_REGISTER, &b, &rq, why), -SM_EPROTO);
	assert_non_null(strstr(why, "NAME"));

	sm_mb_init(&b);
	for (int i = 0; i < SM_REQ_MAX_KILL_ARGS + 1; i++)
		sm_mb_str(&b, SM_T_KILL_ARG, "x");
	assert_int_equal(decode(SM_CMD_SET_KILL, &b, &rq, why), -SM_ETOO_BIG);
	assert_non_null(strstr(why, "kill action"));

	sm_mb_init(&b);
	size_t g = sm_mb_begin(&b, SM_T_RESOURCE);
	for (int i = 0; i < 4; i++)
		sm_mb_str(&b, SM_T_LOCATION, "/dev/x");
	sm_mb_end(&b, g);
	assert_int_equal(decode(SM_CMD_ACQUIRE, &b, &rq, why), -SM_EPROTO);
	assert_non_null(strstr(why, "resource 1"));
	assert_null(rq.res); /* nothing left to free */
}

static void too_many_resources_and_bad_framing_are_refused(void **state)
{
	(void)state;
	struct sm_msgbuf b;
	struct sm_wire_req rq;
	char why[200];
	struct sm_resource r = {.lockspace = "l", .name = "n"};
	sm_mb_init(&b);
	for (int i = 0; i < SM_REQ_MAX_RESOURCES + 1; i++)
		sm_req_put_resource(&b, &r, 0);
	assert_int_equal(decode(SM_CMD_ACQUIRE, &b, &rq, why), -SM_ETOO_BIG);
	assert_non_null(strstr(why, "4096"));

	uint8_t cut[8] = {0};
	sm_put_le16(cut, SM_T_RESOURCE);
	sm_put_le32(cut + 2, 100); /* longer than the payload */
	assert_int_equal(sm_wire_req_decode(SM_CMD_ACQUIRE, 0, cut, sizeof(cut), &rq, why, sizeof(why)), -SM_EPROTO);
	assert_string_equal(why, "bad TLV framing");
}

/* ---- the reply path persists first ---------------------------------------- */

static struct daemon d;
static int peer = -1;      /* the client's end of the socket pair */
static int persist_calls;
static int persisted_with_reply_pending; /* calls that found reply bytes already sent */
static int persisted_nprocs;             /* what the last call saw */
static int persisted_kill_signal;

static int fake_persist(struct daemon *dd)
{
	persist_calls++;
	char byte;
	if (recv(peer, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0)
		persisted_with_reply_pending++;
	persisted_nprocs = dd->nprocs;
	persisted_kill_signal = dd->procs ? dd->procs->kill.signal : -1;
	return 0;
}

static struct conn *connect_client(void)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	struct conn *c = conn_new(&d, sv[0]);
	assert_non_null(c);
	c->admin = false; /* tests may run as root */
	peer = sv[1];
	return c;
}

/* Send one request on the peer, let the connection handle it, and return
 * the reply's result. */
static int32_t transact(struct conn *c, uint16_t cmd, uint32_t flags, struct sm_msgbuf *b)
{
	struct sm_msg_hdr h = {.cmd = cmd, .seq = 1, .flags = flags};
	int n = sm_mb_finish(b, &h);
	assert_true(n > 0);
	assert_int_equal(write(peer, b->data, (size_t)n), n);
	sm_mb_free(b);
	conn_on_event(c, EPOLLIN);
	uint8_t reply[4096];
	ssize_t r = recv(peer, reply, sizeof(reply), MSG_DONTWAIT);
	assert_true(r >= SM_PROTO_HDR);
	struct sm_msg_hdr rh;
	assert_int_equal(sm_hdr_decode(reply, &rh), 0);
	return rh.result;
}

static int reply_setup(void **state)
{
	(void)state;
	sm_log_set_level(SM_LOG_ERROR);
	if (daemon_init(&d) < 0)
		return -1;
	daemon_wire(&d);
	d.cfg.max_clients = 10;
	d.cfg.max_leases = 10;
	snprintf(d.cfg.run_dir, sizeof(d.cfg.run_dir), "/nonexistent");
	d.persist = fake_persist;
	persist_calls = persisted_with_reply_pending = 0;
	return 0;
}

static int reply_teardown(void **state)
{
	(void)state;
	while (d.procs)
		proc_forget(d.procs);
	lease_drop_all(&d);
	proc_free_dead(&d);
	conn_free_dead(&d);
	state_free(&d);
	if (peer >= 0)
		close(peer);
	peer = -1;
	close(d.epfd);
	return 0;
}

static void a_registration_is_persisted_before_its_reply(void **state)
{
	(void)state;
	struct conn *c = connect_client();
	struct sm_msgbuf b;
	sm_mb_init(&b);
	sm_mb_str(&b, SM_T_NAME, "worker");
	assert_int_equal(transact(c, SM_CMD_REGISTER, 0, &b), 0);
	assert_true(persist_calls >= 1);
	assert_int_equal(persisted_with_reply_pending, 0);
	assert_int_equal(persisted_nprocs, 1); /* the saver saw the new process */

	sm_mb_init(&b);
	sm_mb_u32(&b, SM_T_KILL_SIGNAL, SIGKILL);
	int before = persist_calls;
	assert_int_equal(transact(c, SM_CMD_SET_KILL, 0, &b), 0);
	assert_true(persist_calls > before);
	assert_int_equal(persisted_with_reply_pending, 0);
	assert_int_equal(persisted_kill_signal, SIGKILL);
	conn_close(c);
}

static void refusals_and_late_replies_take_the_same_path(void **state)
{
	(void)state;
	struct conn *c = connect_client();
	struct sm_msgbuf b;
	sm_mb_init(&b);
	assert_int_equal(transact(c, SM_CMD_INQUIRE, 0, &b), -SM_ENOT_REGISTERED);
	assert_int_equal(persist_calls, 1);
	sm_mb_init(&b);
	assert_int_equal(transact(c, SM_CMD_JOIN, 0, &b), -SM_EDENIED); /* not admin: refused by the table */
	assert_int_equal(persist_calls, 2);
	assert_int_equal(persisted_with_reply_pending, 0);

	/* A reply sent later (as a finished job sends it: conn_find by id). */
	c->req = (struct sm_msg_hdr){.cmd = SM_CMD_ACQUIRE, .seq = 2};
	c->busy = true;
	conn_reply(conn_find(&d, c->id), 0, NULL);
	assert_int_equal(persist_calls, 3);
	assert_int_equal(persisted_with_reply_pending, 0);
	conn_close(c);
}

/* The command table's rights, checked once for every command. */
static void each_command_gets_the_right_its_table_entry_names(void **state)
{
	(void)state;
	struct conn *c = connect_client();
	struct sm_msgbuf b;
	static const uint16_t admin_only[] = {SM_CMD_JOIN, SM_CMD_LEAVE, SM_CMD_RESOURCE_ADD, SM_CMD_RESOURCE_RM,
					      SM_CMD_REQUEST, SM_CMD_SHUTDOWN, SM_CMD_METRICS, SM_CMD_STATUS,
					      SM_CMD_HOSTS, SM_CMD_RENEWALS};
	for (size_t i = 0; i < sizeof(admin_only) / sizeof(admin_only[0]); i++) {
		sm_mb_init(&b);
		assert_int_equal(transact(c, admin_only[i], 0, &b), -SM_EDENIED);
	}
	static const uint16_t owner_only[] = {SM_CMD_ACQUIRE, SM_CMD_RELEASE, SM_CMD_INQUIRE, SM_CMD_CONVERT,
					      SM_CMD_SET_KILL, SM_CMD_RECEIVE};
	for (size_t i = 0; i < sizeof(owner_only) / sizeof(owner_only[0]); i++) {
		sm_mb_init(&b);
		assert_int_equal(transact(c, owner_only[i], 0, &b), -SM_ENOT_REGISTERED); /* for itself */
		sm_mb_init(&b);
		sm_mb_u32(&b, SM_T_PID, 1);
		assert_int_equal(transact(c, owner_only[i], 0, &b), -SM_EDENIED); /* for another */
	}
	sm_mb_init(&b);
	assert_int_equal(transact(c, 99, 0, &b), -SM_EPROTO);
	assert_int_equal(d.m.denied, 10 + 6);
	/* A restricted registration may do nothing more, whatever the command. */
	sm_mb_init(&b);
	assert_int_equal(transact(c, SM_CMD_REGISTER, SM_F_RESTRICT, &b), 0);
	sm_mb_init(&b);
	assert_int_equal(transact(c, SM_CMD_INQUIRE, 0, &b), -SM_EDENIED);
	sm_mb_init(&b);
	assert_int_equal(transact(c, 99, 0, &b), -SM_EDENIED);
	conn_close(c);
}

int main(void)
{
	const struct CMUnitTest decoder[] = {
		cmocka_unit_test(resources_and_kill_round_trip),
		cmocka_unit_test(first_value_wins_and_unknown_tags_are_ignored),
		cmocka_unit_test(malformed_fields_are_refused_naming_the_field),
		cmocka_unit_test(too_many_resources_and_bad_framing_are_refused),
	};
	const struct CMUnitTest replies[] = {
		cmocka_unit_test_setup_teardown(a_registration_is_persisted_before_its_reply, reply_setup, reply_teardown),
		cmocka_unit_test_setup_teardown(refusals_and_late_replies_take_the_same_path, reply_setup, reply_teardown),
		cmocka_unit_test_setup_teardown(each_command_gets_the_right_its_table_entry_names, reply_setup,
						reply_teardown),
	};
	int failed = cmocka_run_group_tests_name("decoder", decoder, NULL, NULL);
	return failed | cmocka_run_group_tests_name("replies", replies, NULL, NULL);
}
