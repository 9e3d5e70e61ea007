/* sm_strerror / sm_errname / sm_error_class: generated from SM_ERROR_LIST;
 * errno values are classified by errno_class() below. */
#include "sync_manager/errors.h"

#include <errno.h>
#include <string.h>

static const char *const sm_messages[] = {
#define SM_MSG_(name, cls, msg) msg,
	SM_ERROR_LIST(SM_MSG_)
#undef SM_MSG_
};

static const char *const sm_names[] = {
#define SM_NAME_(name, cls, msg) "SM_E" #name,
	SM_ERROR_LIST(SM_NAME_)
#undef SM_NAME_
};

static const enum sm_error_class sm_classes[] = {
#define SM_CLASS_(name, cls, msg) SM_ERRCLASS_##cls,
	SM_ERROR_LIST(SM_CLASS_)
#undef SM_CLASS_
};

_Static_assert(sizeof(sm_classes) / sizeof(sm_classes[0]) == SM_ERR_LAST_ - SM_ERR_FIRST_ - 1,
	       "one class per code");

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

/* errno values by what a caller can do about them; the rest are FAULTs. */
static enum sm_error_class errno_class(int e)
{
	switch (e) {
	case EAGAIN:
	case EINTR:
	case ETIMEDOUT:
	case EINPROGRESS:
	case EALREADY: return SM_ERRCLASS_RETRY;
	case EBUSY:
	case ETXTBSY: return SM_ERRCLASS_REFUSED;
	case ENOENT:
	case EEXIST:
	case ENOTEMPTY: return SM_ERRCLASS_STATE;
	case EINVAL:
	case EPERM:
	case EACCES:
	case EBADF:
	case EFAULT:
	case ENAMETOOLONG:
	case ENOTDIR:
	case EISDIR:
	case ERANGE:
	case E2BIG:
	case ENOTTY:
	case EOPNOTSUPP:
	case ENOSYS: return SM_ERRCLASS_USAGE;
	case ECANCELED: return SM_ERRCLASS_CANCELLED;
	default: return SM_ERRCLASS_FAULT; /* EIO, ENOMEM, ENOSPC, EROFS, ENXIO, EPIPE... */
	}
}

enum sm_error_class sm_error_class(int err)
{
	if (err >= 0)
		return SM_ERRCLASS_NONE;
	int i = sm_index_of(err);
	return i >= 0 ? sm_classes[i] : errno_class(-err);
}

const char *sm_error_class_name(enum sm_error_class cls)
{
	static const char *const names[] = {"none", "refused", "retry", "state", "usage", "fault", "lost", "cancelled"};
	return (unsigned)cls < sizeof(names) / sizeof(names[0]) ? names[cls] : "unknown";
}
