/* sync_manager._native — the C half of the Python binding: one Conn type
 * whose methods are the calls of include/sync_manager/client.h and admin.h,
 * the connectionless volume calls of volume.h (volume_init, volume_dump), and
 * the error table of errors.h.
 *
 * Contract:
 *  - Only the public API (libsync_manager.so.0): no wire protocol here.
 *  - Built for CPython's stable ABI (Py_LIMITED_API 3.9, python/CMakeLists.txt).
 *  - Arguments arrive already checked and normalised by sync_manager/__init__.py
 *    (resources as (spec, mode, at_version, version) tuples, modes as
 *    SM_EXCLUSIVE/SM_SHARED); the library checks them again.
 *  - A failed call raises what the factory set with set_error_factory() makes
 *    of (code, message, owner): message is sm_conn_message() when the daemon
 *    explained the failure, else sm_strerror(code); owner the holder's host
 *    id for refusals (0 otherwise); for the volume calls, sm_volume_message().
 *    Without a factory: OSError.
 *  - Calls that may wait on the daemon release the GIL; one Conn is used by
 *    one thread at a time (a second thread gets RuntimeError, not a race).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>
#include <string.h>

#include <sync_manager/admin.h>
#include <sync_manager/client.h>
#include <sync_manager/errors.h>
#include <sync_manager/volume.h>

#define MAX_RESOURCES 64

static PyObject *error_factory; /* callable(code, message, owner) -> exception */

typedef struct {
	PyObject_HEAD
	sm_conn *conn;
	int busy;
} ConnObject;

/* ---- errors ---------------------------------------------------------------- */

static PyObject *raise_code(int rc, const char *message, unsigned long owner)
{
	if (!error_factory) {
		PyErr_Format(PyExc_OSError, "%s: %s", sm_errname(rc), message);
		return NULL;
	}
	PyObject *exc = PyObject_CallFunction(error_factory, "isk", rc, message, owner);
	if (exc) {
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
		Py_DECREF(exc);
	}
	return NULL;
}

static PyObject *raise_conn(ConnObject *self, int rc)
{
	const char *msg = self->conn ? sm_conn_message(self->conn) : "";
	return raise_code(rc, *msg ? msg : sm_strerror(rc), self->conn ? sm_conn_owner(self->conn) : 0);
}

static PyObject *set_error_factory(PyObject *mod, PyObject *factory)
{
	if (!PyCallable_Check(factory)) {
		PyErr_SetString(PyExc_TypeError, "set_error_factory: the factory must be callable");
		return NULL;
	}
	Py_INCREF(factory);
	Py_XDECREF(error_factory);
	error_factory = factory;
	Py_RETURN_NONE;
}

/* ---- guarding a connection -------------------------------------------------- */

/* 0 when self may be used now (marked busy), -1 with an exception set. */
static int conn_enter(ConnObject *self)
{
	if (!self->conn) {
		PyErr_SetString(PyExc_ValueError, "the connection to sync_managerd is closed");
		return -1;
	}
	if (self->busy) {
		PyErr_SetString(PyExc_RuntimeError, "this Conn is in use by another thread (use one Conn per thread)");
		return -1;
	}
	self->busy = 1;
	return 0;
}

static void conn_leave(ConnObject *self) { self->busy = 0; }

/* ---- conversions -------------------------------------------------------------- */

/* One (spec, mode, at_version, version) tuple into r. */
static int resource_from_tuple(ConnObject *self, PyObject *item, struct sm_resource *r)
{
	const char *spec;
	unsigned int mode;
	int at_version;
	unsigned long long version;
	if (!PyArg_ParseTuple(item, "sIpK;a resource is (spec, mode, at_version, version)", &spec, &mode,
			      &at_version, &version))
		return -1;
	int rc = sm_resource_parse(spec, r);
	if (rc < 0) {
		char msg[512];
		snprintf(msg, sizeof(msg), "resource '%s': %s (give LOCKSPACE:NAME or /VOLUME/PATH[:OFFSET]:NAME)", spec,
			 sm_strerror(rc));
		raise_code(rc, msg, 0);
		return -1;
	}
	r->mode = mode;
	r->at_version = at_version;
	r->version = version;
	return 0;
}

/* A sequence of resource tuples into res[]; returns the count or -1. */
static int resources_from_seq(ConnObject *self, PyObject *seq, struct sm_resource *res)
{
	PyObject *fast = PySequence_Tuple(seq);
	if (!fast)
		return -1;
	Py_ssize_t n = PyTuple_Size(fast);
	if (n > MAX_RESOURCES) {
		PyErr_Format(PyExc_ValueError, "%zd resources in one call: at most %d", n, MAX_RESOURCES);
		Py_DECREF(fast);
		return -1;
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		if (resource_from_tuple(self, PyTuple_GetItem(fast, i), &res[i]) < 0) {
			Py_DECREF(fast);
			return -1;
		}
	}
	Py_DECREF(fast);
	return (int)n;
}

static PyObject *lease_to_tuple(const struct sm_lease_info *li)
{
	return Py_BuildValue("(ssKI)", li->lockspace, li->name, (unsigned long long)li->lver, li->mode);
}

static PyObject *leases_to_list(const struct sm_lease_info *li, int n)
{
	PyObject *list = PyList_New(n);
	for (int i = 0; list && i < n; i++) {
		PyObject *t = lease_to_tuple(&li[i]);
		if (!t) {
			Py_DECREF(list);
			return NULL;
		}
		PyList_SetItem(list, i, t);
	}
	return list;
}

static PyObject *field_value(const struct sm_field *f)
{
	switch (f->type) {
	case SM_FIELD_STR:
		return PyUnicode_DecodeUTF8(f->str, (Py_ssize_t)strnlen(f->str, sizeof(f->str)), "surrogateescape");
	case SM_FIELD_U64:
		return PyLong_FromUnsignedLongLong(f->u64);
	case SM_FIELD_I64:
		return PyLong_FromLongLong(f->i64);
	case SM_FIELD_BOOL:
		return PyBool_FromLong(f->b);
	}
	Py_RETURN_NONE; /* a field type newer than this binding */
}

/* {section: [ {key: value, ...}, ... ]} */
static PyObject *report_to_dict(const struct sm_report *rep)
{
	PyObject *out = PyDict_New();
	for (int s = 0; out && s < rep->nsections; s++) {
		const struct sm_section *sec = &rep->sections[s];
		PyObject *records = PyList_New(0);
		for (int r = 0; records && r < sec->nrecords; r++) {
			PyObject *rec = PyDict_New();
			for (int f = 0; rec && f < sec->records[r].nfields; f++) {
				const struct sm_field *fld = &sec->records[r].fields[f];
				PyObject *v = field_value(fld);
				if (!v || PyDict_SetItemString(rec, fld->key, v) < 0)
					Py_CLEAR(rec);
				Py_XDECREF(v);
			}
			if (!rec || PyList_Append(records, rec) < 0)
				Py_CLEAR(records);
			Py_XDECREF(rec);
		}
		if (!records || PyDict_SetItemString(out, sec->name, records) < 0)
			Py_CLEAR(out);
		Py_XDECREF(records);
	}
	return out;
}

/* ---- Conn ------------------------------------------------------------------- */

static int Conn_init(ConnObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {NULL};
	if (!PyArg_ParseTupleAndKeywords(args, kwds, ":Conn", kwlist))
		return -1;
	if (self->conn)
		return 0;
	sm_conn *c = NULL;
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = sm_conn_open(&c);
	Py_END_ALLOW_THREADS
	if (rc < 0) {
		raise_code(rc, sm_strerror(rc), 0);
		return -1;
	}
	self->conn = c;
	return 0;
}

static void Conn_dealloc(ConnObject *self)
{
	PyTypeObject *tp = Py_TYPE(self);
	sm_conn_close(self->conn);
	self->conn = NULL;
	freefunc tp_free = (freefunc)PyType_GetSlot(tp, Py_tp_free);
	tp_free(self);
	Py_DECREF(tp);
}

static PyObject *Conn_close(ConnObject *self, PyObject *unused)
{
	if (self->busy) {
		PyErr_SetString(PyExc_RuntimeError, "this Conn is in use by another thread: close it there");
		return NULL;
	}
	sm_conn_close(self->conn);
	self->conn = NULL;
	Py_RETURN_NONE;
}

static PyObject *Conn_closed(ConnObject *self, void *unused) { return PyBool_FromLong(self->conn == NULL); }

static PyObject *Conn_fileno(ConnObject *self, PyObject *unused)
{
	if (!self->conn) {
		PyErr_SetString(PyExc_ValueError, "the connection to sync_managerd is closed");
		return NULL;
	}
	return PyLong_FromLong(sm_conn_fd(self->conn));
}

/* Runs CALL with the GIL released on a guarded connection; rc < 0 raises. */
#define CONN_CALL(self, rc, CALL)                                \
	do {                                                     \
		if (conn_enter(self) < 0)                        \
			return NULL;                             \
		Py_BEGIN_ALLOW_THREADS rc = (CALL);              \
		Py_END_ALLOW_THREADS conn_leave(self);           \
	} while (0)

static PyObject *Conn_register(ConnObject *self, PyObject *args)
{
	const char *name;
	unsigned int flags;
	int rc;
	if (!PyArg_ParseTuple(args, "sI:register", &name, &flags))
		return NULL;
	CONN_CALL(self, rc, sm_register(self->conn, name, flags));
	return rc < 0 ? raise_conn(self, rc) : (Py_INCREF(Py_None), Py_None);
}

static PyObject *Conn_register_pid(ConnObject *self, PyObject *args)
{
	int pid, rc;
	const char *name;
	if (!PyArg_ParseTuple(args, "is:register_pid", &pid, &name))
		return NULL;
	CONN_CALL(self, rc, sm_register_pid(self->conn, pid, name));
	return rc < 0 ? raise_conn(self, rc) : (Py_INCREF(Py_None), Py_None);
}

/* (path, args) of a kill program into C strings; argv points into the tuple. */
static int kill_args(PyObject *seq, const char **argv, int *nargs, PyObject **keep)
{
	*nargs = 0;
	*keep = NULL;
	if (seq == Py_None)
		return 0;
	PyObject *t = PySequence_Tuple(seq);
	if (!t)
		return -1;
	Py_ssize_t n = PyTuple_Size(t);
	if (n > 32) {
		PyErr_SetString(PyExc_ValueError, "a kill program takes at most 32 arguments");
		Py_DECREF(t);
		return -1;
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		if (!PyArg_Parse(PyTuple_GetItem(t, i), "s;kill program arguments are strings", &argv[i])) {
			Py_DECREF(t);
			return -1;
		}
	}
	*nargs = (int)n;
	*keep = t;
	return 0;
}

static PyObject *Conn_set_kill(ConnObject *self, PyObject *args)
{
	int pid, sig, rc, nargs;
	const char *path, *argv[32];
	PyObject *seq, *keep;
	if (!PyArg_ParseTuple(args, "iizO:set_kill", &pid, &sig, &path, &seq) || kill_args(seq, argv, &nargs, &keep) < 0)
		return NULL;
	if (conn_enter(self) < 0) {
		Py_XDECREF(keep);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	rc = sm_set_kill(self->conn, pid, sig, path, argv, nargs);
	Py_END_ALLOW_THREADS
	conn_leave(self);
	Py_XDECREF(keep);
	return rc < 0 ? raise_conn(self, rc) : (Py_INCREF(Py_None), Py_None);
}

static PyObject *Conn_acquire(ConnObject *self, PyObject *args)
{
	PyObject *seq;
	int pid, rc;
	unsigned int flags;
	struct sm_resource res[MAX_RESOURCES];
	struct sm_lease_info out[MAX_RESOURCES];
	if (!PyArg_ParseTuple(args, "OiI:acquire", &seq, &pid, &flags))
		return NULL;
	int n = resources_from_seq(self, seq, res);
	if (n < 0)
		return NULL;
	memset(out, 0, sizeof(out));
	CONN_CALL(self, rc, sm_acquire(self->conn, pid, res, n, flags, out));
	return rc < 0 ? raise_conn(self, rc) : leases_to_list(out, n);
}

static PyObject *Conn_release(ConnObject *self, PyObject *args)
{
	PyObject *seq;
	int pid, rc;
	struct sm_resource res[MAX_RESOURCES];
	if (!PyArg_ParseTuple(args, "Oi:release", &seq, &pid))
		return NULL;
	int n = resources_from_seq(self, seq, res);
	if (n < 0)
		return NULL;
	CONN_CALL(self, rc, sm_release(self->conn, pid, res, n));
	return rc < 0 ? raise_conn(self, rc) : (Py_INCREF(Py_None), Py_None);
}

static PyObject *Conn_release_handoff(ConnObject *self, PyObject *args)
{
	int pid, rc;
	if (!PyArg_ParseTuple(args, "i:release_handoff", &pid))
		return NULL;
	CONN_CALL(self, rc, sm_release_handoff(self->conn, pid));
	return rc < 0 ? raise_conn(self, rc) : (Py_INCREF(Py_None), Py_None);
}

static PyObject *Conn_receive(ConnObject *self, PyObject *args)
{
	PyObject *item;
	int pid, rc;
	unsigned int wait_ms;
	struct sm_resource r;
	struct sm_lease_info out;
	if (!PyArg_ParseTuple(args, "OIi:receive", &item, &wait_ms, &pid) || resource_from_tuple(self, item, &r) < 0)
		return NULL;
	memset(&out, 0, sizeof(out));
	CONN_CALL(self, rc, sm_receive(self->conn, pid, &r, wait_ms, &out));
	return rc < 0 ? raise_conn(self, rc) : lease_to_tuple(&out);
}

static PyObject *Conn_inquire(ConnObject *self, PyObject *args)
{
	int pid, rc;
	struct sm_lease_info *li = NULL;
	if (!PyArg_ParseTuple(args, "i:inquire", &pid))
		return NULL;
	CONN_CALL(self, rc, sm_inquire(self->conn, pid, &li));
	if (rc < 0)
		return raise_conn(self, rc);
	PyObject *list = leases_to_list(li, rc);
	free(li);
	return list;
}

static PyObject *Conn_convert(ConnObject *self, PyObject *args)
{
	PyObject *item;
	int pid, rc;
	unsigned int mode;
	struct sm_resource r;
	if (!PyArg_ParseTuple(args, "OIi:convert", &item, &mode, &pid) || resource_from_tuple(self, item, &r) < 0)
		return NULL;
	CONN_CALL(self, rc, sm_convert(self->conn, pid, &r, mode));
	return rc < 0 ? raise_conn(self, rc) : (Py_INCREF(Py_None), Py_None);
}

static PyObject *Conn_request(ConnObject *self, PyObject *args)
{
	PyObject *item;
	int kind, rc;
	struct sm_resource r;
	if (!PyArg_ParseTuple(args, "Oi:request", &item, &kind) || resource_from_tuple(self, item, &r) < 0)
		return NULL;
	CONN_CALL(self, rc, sm_request(self->conn, &r, kind));
	return rc < 0 ? raise_conn(self, rc) : (Py_INCREF(Py_None), Py_None);
}

static PyObject *Conn_join(ConnObject *self, PyObject *args)
{
	const char *location, *host_name;
	unsigned int host_id, flags;
	int rc;
	if (!PyArg_ParseTuple(args, "sIzI:join", &location, &host_id, &host_name, &flags))
		return NULL;
	CONN_CALL(self, rc, sm_join(self->conn, location, host_id, host_name, flags));
	return rc < 0 ? raise_conn(self, rc) : (Py_INCREF(Py_None), Py_None);
}

static PyObject *Conn_leave(ConnObject *self, PyObject *args)
{
	const char *lockspace;
	int force, rc;
	if (!PyArg_ParseTuple(args, "sp:leave", &lockspace, &force))
		return NULL;
	CONN_CALL(self, rc, sm_leave(self->conn, lockspace, force));
	return rc < 0 ? raise_conn(self, rc) : (Py_INCREF(Py_None), Py_None);
}

/* status(), hosts(ls), renewals(ls): a report as a dict of sections. */
static PyObject *report_call(ConnObject *self, const char *lockspace, int which)
{
	struct sm_report *rep = NULL;
	int rc;
	CONN_CALL(self, rc,
		  which == 0 ? sm_status(self->conn, &rep)
		  : which == 1 ? sm_hosts(self->conn, lockspace, &rep)
			       : sm_renewals(self->conn, lockspace, &rep));
	if (rc < 0)
		return raise_conn(self, rc);
	PyObject *d = report_to_dict(rep);
	sm_report_free(rep);
	return d;
}

static PyObject *Conn_status(ConnObject *self, PyObject *unused) { return report_call(self, NULL, 0); }

static PyObject *Conn_hosts(ConnObject *self, PyObject *args)
{
	const char *lockspace;
	return PyArg_ParseTuple(args, "s:hosts", &lockspace) ? report_call(self, lockspace, 1) : NULL;
}

static PyObject *Conn_renewals(ConnObject *self, PyObject *args)
{
	const char *lockspace;
	return PyArg_ParseTuple(args, "s:renewals", &lockspace) ? report_call(self, lockspace, 2) : NULL;
}

static PyObject *Conn_resource_create(ConnObject *self, PyObject *args)
{
	const char *lockspace, *name;
	int rc;
	if (!PyArg_ParseTuple(args, "ss:resource_create", &lockspace, &name))
		return NULL;
	CONN_CALL(self, rc, sm_resource_create(self->conn, lockspace, name));
	return rc < 0 ? raise_conn(self, rc) : (Py_INCREF(Py_None), Py_None);
}

static PyObject *Conn_resource_delete(ConnObject *self, PyObject *args)
{
	const char *lockspace, *name;
	int rc;
	if (!PyArg_ParseTuple(args, "ss:resource_delete", &lockspace, &name))
		return NULL;
	CONN_CALL(self, rc, sm_resource_delete(self->conn, lockspace, name));
	return rc < 0 ? raise_conn(self, rc) : (Py_INCREF(Py_None), Py_None);
}

static PyObject *Conn_metrics(ConnObject *self, PyObject *unused)
{
	char *text = NULL;
	int rc;
	CONN_CALL(self, rc, sm_metrics(self->conn, &text));
	if (rc < 0)
		return raise_conn(self, rc);
	PyObject *s = PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "surrogateescape");
	free(text);
	return s;
}

static PyObject *Conn_shutdown(ConnObject *self, PyObject *args)
{
	unsigned int flags;
	int rc;
	if (!PyArg_ParseTuple(args, "I:shutdown", &flags))
		return NULL;
	CONN_CALL(self, rc, sm_shutdown(self->conn, flags));
	return rc < 0 ? raise_conn(self, rc) : (Py_INCREF(Py_None), Py_None);
}

static PyMethodDef Conn_methods[] = {
	{"close", (PyCFunction)Conn_close, METH_NOARGS, "close(): close the connection (a registered one drops its leases)"},
	{"fileno", (PyCFunction)Conn_fileno, METH_NOARGS, "fileno(): the socket's descriptor"},
	{"register", (PyCFunction)Conn_register, METH_VARARGS, "register(name, flags): sm_register()"},
	{"register_pid", (PyCFunction)Conn_register_pid, METH_VARARGS, "register_pid(pid, name): sm_register_pid()"},
	{"set_kill", (PyCFunction)Conn_set_kill, METH_VARARGS, "set_kill(pid, signal, path, args): sm_set_kill()"},
	{"acquire", (PyCFunction)Conn_acquire, METH_VARARGS, "acquire(resources, pid, flags): sm_acquire()"},
	{"release", (PyCFunction)Conn_release, METH_VARARGS, "release(resources, pid): sm_release()"},
	{"release_handoff", (PyCFunction)Conn_release_handoff, METH_VARARGS, "release_handoff(pid)"},
	{"receive", (PyCFunction)Conn_receive, METH_VARARGS, "receive(resource, wait_ms, pid): sm_receive()"},
	{"inquire", (PyCFunction)Conn_inquire, METH_VARARGS, "inquire(pid): sm_inquire()"},
	{"convert", (PyCFunction)Conn_convert, METH_VARARGS, "convert(resource, mode, pid): sm_convert()"},
	{"request", (PyCFunction)Conn_request, METH_VARARGS, "request(resource, kind): sm_request()"},
	{"join", (PyCFunction)Conn_join, METH_VARARGS, "join(location, host_id, host_name, flags): sm_join()"},
	{"leave", (PyCFunction)Conn_leave, METH_VARARGS, "leave(lockspace, force): sm_leave()"},
	{"status", (PyCFunction)Conn_status, METH_NOARGS, "status(): sm_status() as {section: [record dict]}"},
	{"hosts", (PyCFunction)Conn_hosts, METH_VARARGS, "hosts(lockspace): sm_hosts()"},
	{"renewals", (PyCFunction)Conn_renewals, METH_VARARGS, "renewals(lockspace): sm_renewals()"},
	{"resource_create", (PyCFunction)Conn_resource_create, METH_VARARGS, "resource_create(lockspace, name)"},
	{"resource_delete", (PyCFunction)Conn_resource_delete, METH_VARARGS, "resource_delete(lockspace, name)"},
	{"metrics", (PyCFunction)Conn_metrics, METH_NOARGS, "metrics(): Prometheus text"},
	{"shutdown", (PyCFunction)Conn_shutdown, METH_VARARGS, "shutdown(flags): sm_shutdown()"},
	{NULL, NULL, 0, NULL},
};

static PyGetSetDef Conn_getset[] = {
	{"closed", (getter)Conn_closed, NULL, "True once closed", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Conn_slots[] = {
	{Py_tp_doc, "A connection to the local sync_managerd (sm_conn)."},
	{Py_tp_init, Conn_init},
	{Py_tp_dealloc, Conn_dealloc},
	{Py_tp_methods, Conn_methods},
	{Py_tp_getset, Conn_getset},
	{Py_tp_new, PyType_GenericNew},
	{0, NULL},
};

static PyType_Spec Conn_spec = {
	.name = "sync_manager._native.Conn",
	.basicsize = sizeof(ConnObject),
	.flags = Py_TPFLAGS_DEFAULT,
	.slots = Conn_slots,
};

/* ---- module ----------------------------------------------------------------- */

static PyObject *mod_version(PyObject *mod, PyObject *unused) { return PyUnicode_FromString(sm_version()); }

static PyObject *mod_strerror(PyObject *mod, PyObject *args)
{
	int code;
	return PyArg_ParseTuple(args, "i:strerror", &code) ? PyUnicode_FromString(sm_strerror(code)) : NULL;
}

static PyObject *mod_errname(PyObject *mod, PyObject *args)
{
	int code;
	return PyArg_ParseTuple(args, "i:errname", &code) ? PyUnicode_FromString(sm_errname(code)) : NULL;
}

static PyObject *mod_error_class(PyObject *mod, PyObject *args)
{
	int code;
	if (!PyArg_ParseTuple(args, "i:error_class", &code))
		return NULL;
	return PyUnicode_FromString(sm_error_class_name(sm_error_class(code)));
}

/* Resource names (a sequence of str) into names[]; the tuple that owns the
 * strings is *keep.  Returns the count or -1. */
#define MAX_INIT_NAMES 65536
static Py_ssize_t names_from_seq(PyObject *seq, const char ***names, PyObject **keep)
{
	*names = NULL;
	*keep = PySequence_Tuple(seq);
	if (!*keep)
		return -1;
	Py_ssize_t n = PyTuple_Size(*keep);
	if (n > MAX_INIT_NAMES) {
		PyErr_Format(PyExc_ValueError, "%zd resource names: a volume has at most %d areas", n, MAX_INIT_NAMES);
		return -1;
	}
	*names = calloc((size_t)n + 1, sizeof(**names));
	if (!*names) {
		PyErr_NoMemory();
		return -1;
	}
	for (Py_ssize_t i = 0; i < n; i++)
		if (!PyArg_Parse(PyTuple_GetItem(*keep, i), "s;resource names are strings", &(*names)[i]))
			return -1;
	return n;
}

static PyObject *mod_volume_init(PyObject *mod, PyObject *args)
{
	const char *location;
	PyObject *seq, *keep = NULL;
	const char **names = NULL;
	struct sm_volume_init_params p;
	memset(&p, 0, sizeof(p));
	if (!PyArg_ParseTuple(args, "ssIIIIIIIO:volume_init", &location, &p.lockspace, &p.max_hosts, &p.sector_size,
			      &p.io_timeout_ms, &p.watchdog_timeout_ms, &p.resources, &p.lease_io, &p.flags, &seq))
		return NULL;
	Py_ssize_t n = names_from_seq(seq, &names, &keep);
	if (n < 0) {
		free(names);
		Py_XDECREF(keep);
		return NULL;
	}
	p.resource_names = names;
	p.resource_name_count = (uint32_t)n;
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = sm_volume_init(location, &p);
	Py_END_ALLOW_THREADS
	free(names);
	Py_DECREF(keep);
	return rc < 0 ? raise_code(rc, sm_volume_message(), 0) : (Py_INCREF(Py_None), Py_None);
}

static PyObject *mod_volume_dump(PyObject *mod, PyObject *args)
{
	const char *location;
	struct sm_report *rep = NULL;
	int rc;
	if (!PyArg_ParseTuple(args, "s:volume_dump", &location))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	rc = sm_volume_dump(location, &rep);
	Py_END_ALLOW_THREADS
	if (rc < 0)
		return raise_code(rc, sm_volume_message(), 0);
	PyObject *d = report_to_dict(rep);
	sm_report_free(rep);
	return d;
}

static PyMethodDef module_methods[] = {
	{"version", mod_version, METH_NOARGS, "version(): the library's version (sm_version())"},
	{"strerror", mod_strerror, METH_VARARGS, "strerror(code): sm_strerror()"},
	{"errname", mod_errname, METH_VARARGS, "errname(code): sm_errname(), e.g. 'SM_EHELD'"},
	{"error_class", mod_error_class, METH_VARARGS, "error_class(code): 'refused', 'retry', ... (sm_error_class())"},
	{"volume_init", mod_volume_init, METH_VARARGS,
	 "volume_init(location, lockspace, max_hosts, sector_size, io_timeout_ms, watchdog_timeout_ms, resources, "
	 "lease_io, flags, names): sm_volume_init()"},
	{"volume_dump", mod_volume_dump, METH_VARARGS, "volume_dump(location): sm_volume_dump() as {section: [record dict]}"},
	{"set_error_factory", set_error_factory, METH_O, "set_error_factory(f): f(code, message, owner) -> exception"},
	{NULL, NULL, 0, NULL},
};

/* Integer constants: every SM_E* code (from SM_ERROR_LIST) and the flags. */
static int add_constants(PyObject *m)
{
	struct {
		const char *name;
		long value;
	} consts[] = {
#define SM_PY_CODE_(name, cls, msg) {"SM_E" #name, SM_E##name},
		SM_ERROR_LIST(SM_PY_CODE_)
#undef SM_PY_CODE_
		{"EXCLUSIVE", SM_EXCLUSIVE},
		{"SHARED", SM_SHARED},
		{"REGISTER_RESTRICT", SM_REGISTER_RESTRICT},
		{"REGISTER_INHERIT", SM_REGISTER_INHERIT},
		{"ACQUIRE_CREATE", SM_ACQUIRE_CREATE},
		{"JOIN_WAIT", SM_JOIN_WAIT},
		{"REQUEST_RELEASE", SM_REQUEST_RELEASE},
		{"REQUEST_HANDOFF", SM_REQUEST_HANDOFF},
		{"SHUTDOWN_FORCE", SM_SHUTDOWN_FORCE},
		{"SHUTDOWN_KEEP", SM_SHUTDOWN_KEEP},
		{"VOLUME_LEASE_IO_PAXOS", SM_VOLUME_LEASE_IO_PAXOS},
		{"VOLUME_LEASE_IO_CAW", SM_VOLUME_LEASE_IO_CAW},
		{"VOLUME_LEASE_IO_AUTO", SM_VOLUME_LEASE_IO_AUTO},
		{"VOLUME_INIT_FORCE", SM_VOLUME_INIT_FORCE},
		{"VOLUME_INIT_CAW_TRUST_TARGET", SM_VOLUME_INIT_CAW_TRUST_TARGET},
	};
	for (size_t i = 0; i < sizeof(consts) / sizeof(consts[0]); i++)
		if (PyModule_AddIntConstant(m, consts[i].name, consts[i].value) < 0)
			return -1;
	return PyModule_AddStringConstant(m, "HEADER_VERSION", SM_VERSION_STRING);
}

static struct PyModuleDef module_def = {
	PyModuleDef_HEAD_INIT,
	.m_name = "sync_manager._native",
	.m_doc = "The C half of the sync_manager binding (use the sync_manager package).",
	.m_size = -1,
	.m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__native(void);
PyMODINIT_FUNC PyInit__native(void)
{
	PyObject *m = PyModule_Create(&module_def);
	if (!m)
		return NULL;
	PyObject *conn_type = PyType_FromSpec(&Conn_spec);
	if (!conn_type || PyModule_AddObject(m, "Conn", conn_type) < 0 || add_constants(m) < 0) {
		Py_XDECREF(conn_type);
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
