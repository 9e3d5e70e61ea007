/* The CLI's shared decisions (src/cli/cli.h), without running the CLI. */
#include "testutil.h"

#include "cli/cli.h"

#include <errno.h>

/* issue 16: `direct acquire` gave up on a ballot conflict that `run` retried;
 * both now ask cli_try_again(). */
static void acquire_tries_again_after_a_lost_ballot_race(void **state)
{
	assert_true(cli_try_again(-SM_EBALLOT_ABORTED, true, 1));
	assert_true(cli_try_again(-SM_EBALLOT_ABORTED, false, 1)); /* even without --wait, */
	assert_false(cli_try_again(-SM_EBALLOT_ABORTED, false, CLI_QUICK_RETRIES)); /* a few times */
}

static void acquire_waits_on_a_refusal_only_while_time_is_left(void **state)
{
	static const int refused[] = {SM_EHELD, SM_ESHARED_HELD, SM_EUNKNOWN_HOST};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		assert_true(cli_try_again(-refused[i], true, 50));
		assert_false(cli_try_again(-refused[i], false, 1));
	}
}

static void acquire_never_repeats_a_fault_or_a_wrong_request(void **state)
{
	static const int final[] = {SM_ELVER_MISMATCH, SM_ENO_RESOURCE, SM_EIO_TIMEOUT, SM_ENO_MAJORITY, EIO,
				    SM_EBAD_ARGUMENT, SM_ELOCKSPACE_LOST, SM_EINTERRUPTED, 0};
	for (size_t i = 0; i < sizeof(final) / sizeof(final[0]); i++)
		assert_false(cli_try_again(-final[i], true, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(acquire_tries_again_after_a_lost_ballot_race),
		cmocka_unit_test(acquire_waits_on_a_refusal_only_while_time_is_left),
		cmocka_unit_test(acquire_never_repeats_a_fault_or_a_wrong_request),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
