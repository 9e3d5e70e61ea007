/* sm_strerror / sm_errname: generated from SM_ERROR_LIST. */
#include "sync_manager/errors.h"

#include <errno.h>
#include <string.h>

static const char *const sm_messages[] = {
#define SM_MSG_(name, msg) msg,
	SM_ERROR_LIST(SM_MSG_)
#undef SM_MSG_
};

static const char *const sm_names[] = {
#define SM_NAME_(name, msg) "SM_E" #name,
	SM_ERROR_LIST(SM_NAME_)
#undef SM_NAME_
};

static int sm_index_of(int err)
{
	int code = err < 0 ? -err : err;
	if (code > SM_ERR_FIRST_ && code < SM_ERR_LAST_)
		return code - SM_ERR_FIRST_ - 1;
	return -1;
}

const char *sm_strerror(int err)
{
	int i = sm_index_of(err);
	if (i >= 0)
		return sm_messages[i];
	if (err == 0)
		return "success";
	return strerror(err < 0 ? -err : err);
}

const char *sm_errname(int err)
{
	int i = sm_index_of(err);
	if (i >= 0)
		return sm_names[i];
	if (err == 0)
		return "OK";
	const char *n = strerrorname_np(err < 0 ? -err : err);
	return n ? n : "UNKNOWN";
}
