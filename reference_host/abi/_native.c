/* The native value layer: the same lowering and lifting as reference_host/abi/lower.py and
 * lift.py, walking the same descriptor of each WIT type, in C.
 *
 * Built on demand by reference_host/abi/native.py (gcc, CPython headers); when it cannot be built
 * or FLOWCTL_ABI=python, the Python layer runs alone.  It writes and reads exactly the layout
 * drawn in lower.py (wasmtime 50, 64-bit, little-endian):
 *
 *   wasmtime_component_val_t   32 bytes: u8 kind, 7 pad, 24-byte union at offset 8
 *   string / enum / list / record / tuple   {size_t size @8; T *data @16}
 *   variant                    {wasm_name_t discriminant @8/@16; val_t *payload @24}
 *   option                     {val_t *some_or_null @8}
 *   result                     {bool is_ok @8; val_t *payload_or_null @16}
 *   record entry               48 bytes: wasm_name_t name (16) + val_t (32)
 *
 * Lowering never raises for a value that does not fit: it answers MISMATCH and the caller re-runs
 * the Python encoder, which names the problem (one wording of every error, and a value the two
 * layers judged differently is decided by the Python one).  Descriptors are tuples made by
 * native.py: (code, ...), see DESCRIPTORS there.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum {
    D_STRING, D_BOOL, D_INT, D_F32, D_F64, D_CHAR, D_LIST, D_RECORD, D_TUPLE, D_OPTION, D_ENUM,
    D_TAGGED, D_BYCLASS, D_RESULT
};
/* wasmtime_component_valkind_t */
enum {
    W_BOOL, W_S8, W_U8, W_S16, W_U16, W_S32, W_U32, W_S64, W_U64, W_F32, W_F64, W_CHAR, W_STRING,
    W_LIST, W_RECORD, W_TUPLE, W_VARIANT, W_ENUM, W_OPTION, W_RESULT
};
enum { OK = 0, FULL = 1, MISMATCH = 2, FAILED = 3 };

#define VAL 32
#define ENTRY 48
#define ITEM(d, i) PyTuple_GET_ITEM((d), (i))

typedef struct {
    char *base;
    Py_ssize_t limit;
    Py_ssize_t top;
} Arena;

static PyObject *s_case, *s_value, *s_error;

/* Long loops hold the GIL (Python code would give it up every 5 ms): lifting, every YIELD_EVERY
 * list items the GIL is dropped and taken again, so a neighbour thread is not stalled while one
 * call lifts a huge result (an output flood of 100,000 events takes ~100 ms).  Only lifting
 * yields: the objects it builds are seen by no other thread yet, whereas the lists lowering and
 * to_json walk belong to the caller and could change under a yield.  Their size is the host's
 * own input (batches, one event), bounded by it. */
#define YIELD_EVERY 2048
static int yield_countdown = YIELD_EVERY;
static inline void yield_sometimes(void) {
    if (--yield_countdown <= 0) {
        yield_countdown = YIELD_EVERY;
        Py_BEGIN_ALLOW_THREADS
        Py_END_ALLOW_THREADS
    }
}

static inline void put_u64(char *at, uint64_t v) { memcpy(at, &v, 8); }
static inline uint64_t get_u64(const char *at) {
    uint64_t v;
    memcpy(&v, at, 8);
    return v;
}
static inline void put_ptr(char *at, const void *p) { put_u64(at, (uint64_t)(uintptr_t)p); }
static inline char *get_ptr(const char *at) { return (char *)(uintptr_t)get_u64(at); }
static inline long code_of(PyObject *d) { return PyLong_AsLong(ITEM(d, 0)); }

/* Reserve n bytes (8-aligned end) from the arena; -1 when it is full. */
static inline Py_ssize_t take(Arena *a, Py_ssize_t n, int align) {
    Py_ssize_t p = a->top, e = p + n;
    if (e > a->limit) return -1;
    a->top = align ? ((e + 7) & ~(Py_ssize_t)7) : e;
    return p;
}

static int lower(PyObject *d, PyObject *v, Arena *a, Py_ssize_t off);

/* A variant-shaped slot (variant, or a payload-less enum written as a variant). */
static int lower_case(Arena *a, char *slot, PyObject *name, PyObject *pd, PyObject *payload,
                      Py_ssize_t off) {
    Py_ssize_t n = PyLong_AsSsize_t(ITEM(name, 0));
    void *na = PyLong_AsVoidPtr(ITEM(name, 1));
    slot[0] = W_VARIANT;
    put_u64(slot + 8, (uint64_t)n);
    put_ptr(slot + 16, na);
    if (pd == Py_None) {
        if (payload != Py_None) return MISMATCH;
        put_u64(slot + 24, 0);
        return OK;
    }
    Py_ssize_t p = take(a, VAL, 0);
    if (p < 0) return FULL;
    put_ptr(a->base + off + 24, a->base + p);
    return lower(pd, payload, a, p);
}

static int lower_seq(PyObject *ed, PyObject *const *items, Py_ssize_t n, PyObject *descs,
                     Arena *a, char *slot, int kind) {
    Py_ssize_t p = take(a, n * VAL, 0);
    if (p < 0) return FULL;
    slot[0] = (char)kind;
    put_u64(slot + 8, (uint64_t)n);
    put_ptr(slot + 16, a->base + p);
    for (Py_ssize_t i = 0; i < n; i++) {
        int rc = lower(descs ? ITEM(descs, i) : ed, items[i], a, p + i * VAL);
        if (rc) return rc;
    }
    return OK;
}

static int lower(PyObject *d, PyObject *v, Arena *a, Py_ssize_t off) {
    char *slot = a->base + off;
    memset(slot, 0, VAL);
    switch (code_of(d)) {
    case D_STRING: {
        if (!PyUnicode_Check(v)) return MISMATCH;
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(v, &n);
        if (!s) {
            PyErr_Clear(); /* a lone surrogate: Python's encoder names it */
            return MISMATCH;
        }
        Py_ssize_t p = take(a, n, 1);
        if (p < 0) return FULL;
        memcpy(a->base + p, s, (size_t)n);
        slot[0] = W_STRING;
        put_u64(slot + 8, (uint64_t)n);
        put_ptr(slot + 16, a->base + p);
        return OK;
    }
    case D_BOOL:
        if (!PyBool_Check(v)) return MISMATCH;
        slot[0] = W_BOOL;
        slot[8] = (char)(v == Py_True);
        return OK;
    case D_INT: { /* (D_INT, wasmtime kind, width, signed, lo, hi) */
        if (!PyLong_CheckExact(v)) return MISMATCH;
        int width = (int)PyLong_AsLong(ITEM(d, 2));
        if (PyLong_AsLong(ITEM(d, 3))) {
            int overflow;
            long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
            if (overflow) return MISMATCH;
            if (x < PyLong_AsLongLong(ITEM(d, 4)) || x > PyLong_AsLongLong(ITEM(d, 5)))
                return MISMATCH;
            memcpy(slot + 8, &x, (size_t)width);
        } else {
            unsigned long long x = PyLong_AsUnsignedLongLong(v);
            if (x == (unsigned long long)-1 && PyErr_Occurred()) {
                PyErr_Clear(); /* negative or past 64 bits */
                return MISMATCH;
            }
            if (x > PyLong_AsUnsignedLongLong(ITEM(d, 5))) return MISMATCH;
            memcpy(slot + 8, &x, (size_t)width);
        }
        slot[0] = (char)PyLong_AsLong(ITEM(d, 1));
        return OK;
    }
    case D_F32:
    case D_F64: {
        double x;
        if (PyFloat_CheckExact(v)) {
            x = PyFloat_AS_DOUBLE(v);
        } else if (PyLong_CheckExact(v)) {
            x = PyLong_AsDouble(v);
            if (x == -1.0 && PyErr_Occurred()) {
                PyErr_Clear();
                return MISMATCH;
            }
        } else {
            return MISMATCH;
        }
        if (code_of(d) == D_F64) {
            slot[0] = W_F64;
            memcpy(slot + 8, &x, 8);
        } else {
            float y = (float)x;
            if (isinf(y) && !isinf(x)) return MISMATCH; /* struct's OverflowError */
            slot[0] = W_F32;
            memcpy(slot + 8, &y, 4);
        }
        return OK;
    }
    case D_CHAR: {
        if (!PyUnicode_Check(v) || PyUnicode_GET_LENGTH(v) != 1) return MISMATCH;
        Py_UCS4 c = PyUnicode_READ_CHAR(v, 0);
        if (c >= 0xD800 && c <= 0xDFFF) return MISMATCH;
        uint32_t u = (uint32_t)c;
        slot[0] = W_CHAR;
        memcpy(slot + 8, &u, 4);
        return OK;
    }
    case D_LIST: { /* (D_LIST, elem) */
        if (!PyList_Check(v) && !PyTuple_Check(v)) return MISMATCH;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(v);
        return lower_seq(ITEM(d, 1), PySequence_Fast_ITEMS(v), n, NULL, a, slot, W_LIST);
    }
    case D_TUPLE: { /* (D_TUPLE, elems) */
        PyObject *ds = ITEM(d, 1);
        if (!PyList_Check(v) && !PyTuple_Check(v)) return MISMATCH;
        Py_ssize_t n = PyTuple_GET_SIZE(ds);
        if (PySequence_Fast_GET_SIZE(v) != n) return MISMATCH;
        return lower_seq(NULL, PySequence_Fast_ITEMS(v), n, ds, a, slot, W_TUPLE);
    }
    case D_RECORD: { /* (D_RECORD, cls, attrs, template, fields) */
        if ((PyObject *)Py_TYPE(v) != ITEM(d, 1)) return MISMATCH;
        PyObject *attrs = ITEM(d, 2), *fields = ITEM(d, 4);
        Py_ssize_t n = PyTuple_GET_SIZE(attrs);
        Py_ssize_t p = take(a, n * ENTRY, 0);
        if (p < 0) return FULL;
        memcpy(a->base + p, PyBytes_AS_STRING(ITEM(d, 3)), (size_t)(n * ENTRY));
        slot[0] = W_RECORD;
        put_u64(slot + 8, (uint64_t)n);
        put_ptr(slot + 16, a->base + p);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *x = PyObject_GetAttr(v, ITEM(attrs, i));
            if (!x) return FAILED;
            int rc = lower(ITEM(fields, i), x, a, p + i * ENTRY + 16);
            Py_DECREF(x);
            if (rc) return rc;
        }
        return OK;
    }
    case D_OPTION: { /* (D_OPTION, elem) */
        slot[0] = W_OPTION;
        if (v == Py_None) return OK;
        Py_ssize_t p = take(a, VAL, 0);
        if (p < 0) return FULL;
        put_ptr(a->base + off + 8, a->base + p);
        return lower(ITEM(d, 1), v, a, p);
    }
    case D_ENUM: { /* (D_ENUM, {case: (size, addr)}, {bytes: member}, as_variant) */
        PyObject *name = PyDict_GetItemWithError(ITEM(d, 1), v);
        if (!name) {
            PyErr_Clear(); /* unknown or unhashable */
            return MISMATCH;
        }
        if (PyLong_AsLong(ITEM(d, 3))) return lower_case(a, slot, name, Py_None, Py_None, off);
        slot[0] = W_ENUM;
        put_u64(slot + 8, (uint64_t)PyLong_AsSsize_t(ITEM(name, 0)));
        put_ptr(slot + 16, PyLong_AsVoidPtr(ITEM(name, 1)));
        return OK;
    }
    case D_TAGGED: { /* (D_TAGGED, cls, {case: ((size, addr), desc|None)}, {bytes: ...}) */
        if ((PyObject *)Py_TYPE(v) != ITEM(d, 1)) return MISMATCH;
        PyObject *c = PyObject_GetAttr(v, s_case);
        if (!c) return FAILED;
        PyObject *hit = PyDict_GetItemWithError(ITEM(d, 2), c);
        Py_DECREF(c);
        if (!hit) {
            PyErr_Clear();
            return MISMATCH;
        }
        PyObject *payload = PyObject_GetAttr(v, s_value);
        if (!payload) return FAILED;
        int rc = lower_case(a, slot, ITEM(hit, 0), ITEM(hit, 1), payload, off);
        Py_DECREF(payload);
        return rc;
    }
    case D_BYCLASS: { /* (D_BYCLASS, {cls: ((size, addr), desc, wrapped)}, {bytes: ...}) */
        PyObject *hit = PyDict_GetItemWithError(ITEM(d, 1), (PyObject *)Py_TYPE(v));
        if (!hit) {
            PyErr_Clear();
            return MISMATCH;
        }
        if (ITEM(hit, 2) == Py_True) {
            PyObject *payload = PyObject_GetAttr(v, s_value);
            if (!payload) return FAILED;
            int rc = lower_case(a, slot, ITEM(hit, 0), ITEM(hit, 1), payload, off);
            Py_DECREF(payload);
            return rc;
        }
        return lower_case(a, slot, ITEM(hit, 0), ITEM(hit, 1), v, off);
    }
    case D_RESULT: { /* (D_RESULT, ok|None, err|None, err_cls|None, Ok, Err) */
        PyObject *tp = (PyObject *)Py_TYPE(v), *pd, *payload;
        int is_ok;
        if (tp == ITEM(d, 5)) {
            is_ok = 0, pd = ITEM(d, 2), payload = PyObject_GetAttr(v, s_error);
        } else if (tp == ITEM(d, 3)) {
            is_ok = 0, pd = ITEM(d, 2), payload = Py_NewRef(v);
        } else if (tp == ITEM(d, 4)) {
            is_ok = 1, pd = ITEM(d, 1), payload = PyObject_GetAttr(v, s_value);
        } else {
            is_ok = 1, pd = ITEM(d, 1), payload = Py_NewRef(v);
        }
        if (!payload) return FAILED;
        slot[0] = W_RESULT;
        slot[8] = (char)is_ok;
        int rc = OK;
        if (pd == Py_None) {
            if (payload != Py_None) rc = MISMATCH;
        } else {
            Py_ssize_t p = take(a, VAL, 0);
            if (p < 0) {
                rc = FULL;
            } else {
                put_ptr(a->base + off + 16, a->base + p);
                rc = lower(pd, payload, a, p);
            }
        }
        Py_DECREF(payload);
        return rc;
    }
    }
    PyErr_SetString(PyExc_SystemError, "native value layer: unknown descriptor");
    return FAILED;
}

static PyObject *lift(PyObject *d, const char *at);

static PyObject *by_name(PyObject *table, const char *at) {
    PyObject *key = PyBytes_FromStringAndSize(get_ptr(at + 16), (Py_ssize_t)get_u64(at + 8));
    if (!key) return NULL;
    PyObject *hit = PyDict_GetItemWithError(table, key);
    if (!hit && !PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, key);
    Py_DECREF(key);
    return hit; /* borrowed */
}

static PyObject *call(PyObject *fn, PyObject **args, Py_ssize_t n) {
    PyObject *r = PyObject_Vectorcall(fn, args, (size_t)n, NULL);
    for (Py_ssize_t i = 0; i < n; i++) Py_DECREF(args[i]);
    return r;
}

static PyObject *lift(PyObject *d, const char *at) {
    switch (code_of(d)) {
    case D_STRING: {
        Py_ssize_t n = (Py_ssize_t)get_u64(at + 8);
        return PyUnicode_DecodeUTF8(n ? get_ptr(at + 16) : "", n, "strict");
    }
    case D_BOOL:
        return PyBool_FromLong(at[8]);
    case D_INT: {
        int width = (int)PyLong_AsLong(ITEM(d, 2));
        if (PyLong_AsLong(ITEM(d, 3))) {
            switch (width) {
            case 1: return PyLong_FromLong(*(const int8_t *)(at + 8));
            case 2: { int16_t x; memcpy(&x, at + 8, 2); return PyLong_FromLong(x); }
            case 4: { int32_t x; memcpy(&x, at + 8, 4); return PyLong_FromLong(x); }
            default: { int64_t x; memcpy(&x, at + 8, 8); return PyLong_FromLongLong(x); }
            }
        }
        uint64_t x = 0;
        memcpy(&x, at + 8, (size_t)width);
        return PyLong_FromUnsignedLongLong(x);
    }
    case D_F32: {
        float x;
        memcpy(&x, at + 8, 4);
        return PyFloat_FromDouble((double)x);
    }
    case D_F64: {
        double x;
        memcpy(&x, at + 8, 8);
        return PyFloat_FromDouble(x);
    }
    case D_CHAR: {
        uint32_t u;
        memcpy(&u, at + 8, 4);
        return PyUnicode_FromOrdinal((int)u);
    }
    case D_LIST: {
        Py_ssize_t n = (Py_ssize_t)get_u64(at + 8);
        const char *p = get_ptr(at + 16);
        PyObject *out = PyList_New(n), *ed = ITEM(d, 1);
        if (!out) return NULL;
        for (Py_ssize_t i = 0; i < n; i++) {
            yield_sometimes();
            PyObject *x = lift(ed, p + i * VAL);
            if (!x) {
                Py_DECREF(out);
                return NULL;
            }
            PyList_SET_ITEM(out, i, x);
        }
        return out;
    }
    case D_TUPLE: {
        PyObject *ds = ITEM(d, 1);
        Py_ssize_t n = PyTuple_GET_SIZE(ds);
        const char *p = get_ptr(at + 16);
        PyObject *out = PyTuple_New(n);
        if (!out) return NULL;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *x = lift(ITEM(ds, i), p + i * VAL);
            if (!x) {
                Py_DECREF(out);
                return NULL;
            }
            PyTuple_SET_ITEM(out, i, x);
        }
        return out;
    }
    case D_RECORD: {
        PyObject *fields = ITEM(d, 4);
        Py_ssize_t n = PyTuple_GET_SIZE(fields);
        const char *p = get_ptr(at + 16);
        PyObject *small[16], **args = n <= 16 ? small : PyMem_Malloc(sizeof(PyObject *) * n);
        if (!args) return PyErr_NoMemory();
        PyObject *r = NULL;
        Py_ssize_t i = 0;
        for (; i < n; i++) {
            args[i] = lift(ITEM(fields, i), p + i * ENTRY + 16);
            if (!args[i]) break;
        }
        if (i == n) {
            r = call(ITEM(d, 1), args, n);
        } else {
            while (i--) Py_DECREF(args[i]);
        }
        if (args != small) PyMem_Free(args);
        return r;
    }
    case D_OPTION: {
        const char *p = get_ptr(at + 8);
        if (!p) Py_RETURN_NONE;
        return lift(ITEM(d, 1), p);
    }
    case D_ENUM: {
        PyObject *m = by_name(ITEM(d, 2), at);
        return m ? Py_NewRef(m) : NULL;
    }
    case D_TAGGED: { /* lift table: {bytes: (case, desc|None)} */
        PyObject *hit = by_name(ITEM(d, 3), at);
        if (!hit) return NULL;
        PyObject *args[2] = {Py_NewRef(ITEM(hit, 0)), NULL};
        const char *pp = get_ptr(at + 24);
        args[1] = ITEM(hit, 1) == Py_None ? Py_NewRef(Py_None) : lift(ITEM(hit, 1), pp);
        if (!args[1]) {
            Py_DECREF(args[0]);
            return NULL;
        }
        return call(ITEM(d, 1), args, 2);
    }
    case D_BYCLASS: { /* lift table: {bytes: (desc, wrap|None)} */
        PyObject *hit = by_name(ITEM(d, 2), at);
        if (!hit) return NULL;
        PyObject *x = lift(ITEM(hit, 0), get_ptr(at + 24));
        if (!x || ITEM(hit, 1) == Py_None) return x;
        return call(ITEM(hit, 1), &x, 1);
    }
    case D_RESULT: {
        int is_ok = at[8] != 0;
        const char *p = get_ptr(at + 16);
        PyObject *pd = ITEM(d, is_ok ? 1 : 2);
        PyObject *x = (pd != Py_None && p) ? lift(pd, p) : Py_NewRef(Py_None);
        if (!x) return NULL;
        return call(ITEM(d, is_ok ? 4 : 5), &x, 1);
    }
    }
    PyErr_SetString(PyExc_SystemError, "native value layer: unknown descriptor");
    return NULL;
}

/* lower(desc, value, base, limit, top, off) -> new top, or -1 (arena full), -2 (mismatch) */
static PyObject *py_lower(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "lower(desc, value, base, limit, top, off)");
        return NULL;
    }
    Arena a;
    a.base = PyLong_AsVoidPtr(args[2]);
    a.limit = PyLong_AsSsize_t(args[3]);
    a.top = PyLong_AsSsize_t(args[4]);
    Py_ssize_t off = PyLong_AsSsize_t(args[5]);
    if (PyErr_Occurred()) return NULL;
    if (!a.base || off < 0 || off + VAL > a.limit || a.top > a.limit) {
        PyErr_SetString(PyExc_ValueError, "lower: slot outside the arena");
        return NULL;
    }
    switch (lower(args[0], args[1], &a, off)) {
    case OK: return PyLong_FromSsize_t(a.top);
    case FULL: return PyLong_FromLong(-1);
    case MISMATCH: return PyLong_FromLong(-2);
    default: return NULL;
    }
}

/* lift(desc, address) -> value */
static PyObject *py_lift(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "lift(desc, address)");
        return NULL;
    }
    const char *at = PyLong_AsVoidPtr(args[1]);
    if (!at) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "lift: null address");
        return NULL;
    }
    return lift(args[0], at);
}

/* ---------------------------------------------------------------- the JSON form (jsonform.py)
 *
 * from_json(desc, data) / to_json(desc, value): the documented JSON form of jsonform.py.  Any
 * value that is not exactly what the fast path expects gives MISMATCH_OBJ (never an exception),
 * and jsonform.py then runs its Python twin, which names the JSON path of the problem.
 */
static PyObject *MISMATCH_OBJ; /* a unique sentinel, exported as _native.MISMATCH */
static PyObject *s_ok, *s_err;

#define MISS() Py_NewRef(MISMATCH_OBJ)
#define IS_MISS(x) ((x) == MISMATCH_OBJ)

static PyObject *from_json(PyObject *d, PyObject *data);

static PyObject *from_json_list(PyObject *ed, PyObject *data) {
    Py_ssize_t n = PyList_GET_SIZE(data);
    PyObject *out = PyList_New(n);
    if (!out) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *x = from_json(ed, PyList_GET_ITEM(data, i));
        if (!x || IS_MISS(x)) {
            Py_DECREF(out);
            return x;
        }
        PyList_SET_ITEM(out, i, x);
    }
    return out;
}

/* the only (key, value) of a one-key dict, borrowed; 0 when data is not one */
static int one_item(PyObject *data, PyObject **key, PyObject **value) {
    Py_ssize_t pos = 0;
    if (!PyDict_Check(data) || PyDict_GET_SIZE(data) != 1) return 0;
    return PyDict_Next(data, &pos, key, value);
}

static PyObject *from_json(PyObject *d, PyObject *data) {
    switch (code_of(d)) {
    case D_STRING:
        return PyUnicode_Check(data) ? Py_NewRef(data) : MISS();
    case D_CHAR:
        return PyUnicode_Check(data) && PyUnicode_GET_LENGTH(data) == 1 ? Py_NewRef(data) : MISS();
    case D_BOOL:
        return PyBool_Check(data) ? Py_NewRef(data) : MISS();
    case D_F32:
    case D_F64:
        if (PyFloat_CheckExact(data)) return Py_NewRef(data);
        if (PyLong_CheckExact(data)) {
            double x = PyLong_AsDouble(data);
            if (x == -1.0 && PyErr_Occurred()) {
                PyErr_Clear();
                return MISS();
            }
            return PyFloat_FromDouble(x);
        }
        return MISS();
    case D_INT: {
        if (!PyLong_CheckExact(data)) return MISS();
        int lo = PyObject_RichCompareBool(ITEM(d, 4), data, Py_LE);
        int hi = lo == 1 ? PyObject_RichCompareBool(data, ITEM(d, 5), Py_LE) : lo;
        if (hi < 0) return NULL;
        return hi ? Py_NewRef(data) : MISS();
    }
    case D_LIST:
        return PyList_Check(data) ? from_json_list(ITEM(d, 1), data) : MISS();
    case D_TUPLE: {
        PyObject *ds = ITEM(d, 1);
        Py_ssize_t n = PyTuple_GET_SIZE(ds);
        if (!PyList_Check(data) || PyList_GET_SIZE(data) != n) return MISS();
        PyObject *out = PyTuple_New(n);
        if (!out) return NULL;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *x = from_json(ITEM(ds, i), PyList_GET_ITEM(data, i));
            if (!x || IS_MISS(x)) {
                Py_DECREF(out);
                return x;
            }
            PyTuple_SET_ITEM(out, i, x);
        }
        return out;
    }
    case D_OPTION:
        return data == Py_None ? Py_NewRef(Py_None) : from_json(ITEM(d, 1), data);
    case D_RECORD: { /* index 5: the WIT field names */
        if (!PyDict_Check(data)) return MISS();
        PyObject *names = ITEM(d, 5), *fields = ITEM(d, 4);
        Py_ssize_t n = PyTuple_GET_SIZE(names), found = 0;
        PyObject *small[16], **args = n <= 16 ? small : PyMem_Malloc(sizeof(PyObject *) * n);
        if (!args) return PyErr_NoMemory();
        PyObject *r = NULL;
        Py_ssize_t i = 0;
        for (; i < n; i++) {
            PyObject *fd = ITEM(fields, i);
            PyObject *v = PyDict_GetItemWithError(data, ITEM(names, i));
            if (!v) {
                if (PyErr_Occurred()) break;
                if (code_of(fd) != D_OPTION) {
                    r = MISS(); /* a missing field */
                    break;
                }
                args[i] = Py_NewRef(Py_None);
                continue;
            }
            found++;
            args[i] = from_json(fd, v);
            if (!args[i] || IS_MISS(args[i])) {
                r = args[i];
                break;
            }
        }
        if (i == n) {
            if (found != PyDict_GET_SIZE(data)) { /* an unknown field */
                while (i--) Py_DECREF(args[i]);
                r = MISS();
            } else {
                r = call(ITEM(d, 1), args, n);
            }
        } else {
            while (i--) Py_DECREF(args[i]);
        }
        if (args != small) PyMem_Free(args);
        return r;
    }
    case D_ENUM: { /* index 4: {case: member} */
        PyObject *m = PyDict_GetItemWithError(ITEM(d, 4), data);
        if (!m) {
            PyErr_Clear();
            return MISS();
        }
        return Py_NewRef(m);
    }
    case D_TAGGED: { /* index 4: {case: desc|None} */
        PyObject *cases = ITEM(d, 4), *key, *payload;
        if (PyUnicode_Check(data)) {
            PyObject *pd = PyDict_GetItemWithError(cases, data);
            if (!pd) {
                if (PyErr_Occurred()) return NULL;
                return MISS();
            }
            if (pd != Py_None) return MISS();
            PyObject *args[1] = {Py_NewRef(data)};
            return call(ITEM(d, 1), args, 1);
        }
        if (!one_item(data, &key, &payload)) return MISS();
        PyObject *pd = PyUnicode_Check(key) ? PyDict_GetItemWithError(cases, key) : NULL;
        if (!pd || pd == Py_None) {
            PyErr_Clear();
            return MISS();
        }
        PyObject *x = from_json(pd, payload);
        if (!x || IS_MISS(x)) return x;
        PyObject *args[2] = {Py_NewRef(key), x};
        return call(ITEM(d, 1), args, 2);
    }
    case D_BYCLASS: { /* index 3: {case: (desc, wrap|None)} */
        PyObject *key, *payload;
        if (!one_item(data, &key, &payload)) return MISS();
        PyObject *hit = PyUnicode_Check(key) ? PyDict_GetItemWithError(ITEM(d, 3), key) : NULL;
        if (!hit) {
            PyErr_Clear();
            return MISS();
        }
        PyObject *x = from_json(ITEM(hit, 0), payload);
        if (!x || IS_MISS(x) || ITEM(hit, 1) == Py_None) return x;
        return call(ITEM(hit, 1), &x, 1);
    }
    case D_RESULT: {
        PyObject *key, *payload;
        if (!one_item(data, &key, &payload) || !PyUnicode_Check(key)) return MISS();
        int is_ok = PyUnicode_Compare(key, s_ok) == 0;
        if (!is_ok && PyUnicode_Compare(key, s_err) != 0) return MISS();
        PyObject *pd = ITEM(d, is_ok ? 1 : 2);
        PyObject *x = pd == Py_None ? Py_NewRef(Py_None) : from_json(pd, payload);
        if (!x || IS_MISS(x)) return x;
        return call(ITEM(d, is_ok ? 4 : 5), &x, 1);
    }
    }
    PyErr_SetString(PyExc_SystemError, "native value layer: unknown descriptor");
    return NULL;
}

static PyObject *to_json(PyObject *d, PyObject *v);

static PyObject *one_dict(PyObject *key, PyObject *value) { /* steals value */
    if (!value || IS_MISS(value)) return value;
    PyObject *out = PyDict_New();
    if (out && PyDict_SetItem(out, key, value) < 0) Py_CLEAR(out);
    Py_DECREF(value);
    return out;
}

static PyObject *to_json(PyObject *d, PyObject *v) {
    switch (code_of(d)) {
    case D_STRING: case D_CHAR: case D_BOOL: case D_F32: case D_F64: case D_INT:
        return Py_NewRef(v);
    case D_LIST:
    case D_TUPLE: {
        int tuple = code_of(d) == D_TUPLE;
        if (!PyList_Check(v) && !PyTuple_Check(v)) return MISS();
        Py_ssize_t n = PySequence_Fast_GET_SIZE(v);
        if (tuple && n != PyTuple_GET_SIZE(ITEM(d, 1))) return MISS();
        PyObject **items = PySequence_Fast_ITEMS(v), *out = PyList_New(n);
        if (!out) return NULL;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *x = to_json(tuple ? ITEM(ITEM(d, 1), i) : ITEM(d, 1), items[i]);
            if (!x || IS_MISS(x)) {
                Py_DECREF(out);
                return x;
            }
            PyList_SET_ITEM(out, i, x);
        }
        return out;
    }
    case D_OPTION:
        return v == Py_None ? Py_NewRef(Py_None) : to_json(ITEM(d, 1), v);
    case D_RECORD: {
        PyObject *attrs = ITEM(d, 2), *fields = ITEM(d, 4), *names = ITEM(d, 5);
        Py_ssize_t n = PyTuple_GET_SIZE(attrs);
        PyObject *out = PyDict_New();
        if (!out) return NULL;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *x = PyObject_GetAttr(v, ITEM(attrs, i)), *j = NULL;
            if (x) {
                j = to_json(ITEM(fields, i), x);
                Py_DECREF(x);
            }
            if (!j || IS_MISS(j) || PyDict_SetItem(out, ITEM(names, i), j) < 0) {
                Py_DECREF(out);
                if (j && IS_MISS(j)) return j;
                Py_XDECREF(j);
                return NULL;
            }
            Py_DECREF(j);
        }
        return out;
    }
    case D_ENUM:
        return PyObject_Str(v);
    case D_TAGGED: {
        PyObject *c = PyObject_GetAttr(v, s_case);
        if (!c) return NULL;
        PyObject *pd = PyDict_GetItemWithError(ITEM(d, 4), c);
        if (!pd) {
            PyErr_Clear();
            Py_DECREF(c);
            return MISS();
        }
        if (pd == Py_None) return c;
        PyObject *payload = PyObject_GetAttr(v, s_value), *x = NULL;
        if (payload) {
            x = to_json(pd, payload);
            Py_DECREF(payload);
        }
        PyObject *out = x ? one_dict(c, x) : NULL;
        Py_DECREF(c);
        return out;
    }
    case D_BYCLASS: { /* index 1: {cls: ((size, addr), desc, wrapped)}; index 4: {cls: case} */
        PyObject *tp = (PyObject *)Py_TYPE(v);
        PyObject *hit = PyDict_GetItemWithError(ITEM(d, 1), tp);
        PyObject *c = hit ? PyDict_GetItemWithError(ITEM(d, 4), tp) : NULL;
        if (!c) {
            PyErr_Clear();
            return MISS();
        }
        PyObject *payload = ITEM(hit, 2) == Py_True ? PyObject_GetAttr(v, s_value) : Py_NewRef(v);
        if (!payload) return NULL;
        PyObject *x = to_json(ITEM(hit, 1), payload);
        Py_DECREF(payload);
        return one_dict(c, x);
    }
    case D_RESULT: {
        PyObject *tp = (PyObject *)Py_TYPE(v);
        int is_err = PyType_IsSubtype((PyTypeObject *)tp, (PyTypeObject *)ITEM(d, 5));
        PyObject *pd = ITEM(d, is_err ? 2 : 1), *inner;
        if (is_err) {
            inner = PyObject_GetAttr(v, s_error);
        } else if (PyType_IsSubtype((PyTypeObject *)tp, (PyTypeObject *)ITEM(d, 4))) {
            inner = PyObject_GetAttr(v, s_value);
        } else {
            inner = Py_NewRef(v);
        }
        if (!inner) return NULL;
        PyObject *x = pd == Py_None ? Py_NewRef(Py_None) : to_json(pd, inner);
        Py_DECREF(inner);
        return one_dict(is_err ? s_err : s_ok, x);
    }
    }
    PyErr_SetString(PyExc_SystemError, "native value layer: unknown descriptor");
    return NULL;
}

static PyObject *py_from_json(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "from_json(desc, data)");
        return NULL;
    }
    return from_json(args[0], args[1]);
}

static PyObject *py_to_json(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "to_json(desc, value)");
        return NULL;
    }
    return to_json(args[0], args[1]);
}

typedef void *(*call_fn_t)(void *func, void *ctx, void *args, size_t nargs, void *results,
                           size_t nresults);
typedef void (*delete_fn_t)(void *val);

/* invoke(call, delete, func, ctx, descs, values, base, limit, result, result_desc)
 *   -> (0, value) | (1, None) arena full | (2, None) a value does not fit | (3, error address)
 *
 * One call of an export: lower every argument into the arena, call
 * wasmtime_component_func_call (the GIL released: the guest may run long, call host functions,
 * be interrupted by another thread's epoch tick), lift the result and free it.
 */
static PyObject *py_invoke(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 10 || !PyTuple_Check(args[4]) || !PyTuple_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError,
                        "invoke(call, delete, func, ctx, descs, values, base, limit, result, desc)");
        return NULL;
    }
    call_fn_t call_fn = (call_fn_t)PyLong_AsVoidPtr(args[0]);
    delete_fn_t delete_fn = (delete_fn_t)PyLong_AsVoidPtr(args[1]);
    void *func = PyLong_AsVoidPtr(args[2]), *ctx = PyLong_AsVoidPtr(args[3]);
    PyObject *descs = args[4], *values = args[5], *rdesc = args[9];
    Arena a;
    a.base = PyLong_AsVoidPtr(args[6]);
    a.limit = PyLong_AsSsize_t(args[7]);
    char *res = PyLong_AsVoidPtr(args[8]);
    if (PyErr_Occurred()) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(descs);
    if (!call_fn || !delete_fn || !func || !ctx || !a.base || !res ||
        PyTuple_GET_SIZE(values) != n || n * VAL > a.limit) {
        PyErr_SetString(PyExc_ValueError, "invoke: bad arguments");
        return NULL;
    }
    a.top = n * VAL;
    for (Py_ssize_t i = 0; i < n; i++) {
        int rc = lower(ITEM(descs, i), ITEM(values, i), &a, i * VAL);
        if (rc == FAILED) return NULL;
        if (rc) return Py_BuildValue("(iO)", rc, Py_None);
    }
    size_t nres = rdesc != Py_None ? 1 : 0;
    void *err;
    Py_BEGIN_ALLOW_THREADS
    err = call_fn(func, ctx, a.base, (size_t)n, res, nres);
    Py_END_ALLOW_THREADS
    if (err) return Py_BuildValue("(iN)", FAILED, PyLong_FromVoidPtr(err));
    PyObject *v = Py_NewRef(Py_None);
    if (nres) {
        Py_DECREF(v);
        v = lift(rdesc, res);
        delete_fn(res); /* wasmtime assigns into the slot next time: leave a plain bool there */
        memset(res, 0, VAL);
        if (!v) return NULL;
    }
    return Py_BuildValue("(iN)", OK, v);
}

static PyMethodDef methods[] = {
    {"from_json", (PyCFunction)(void (*)(void))py_from_json, METH_FASTCALL, "JSON form -> value"},
    {"to_json", (PyCFunction)(void (*)(void))py_to_json, METH_FASTCALL, "value -> JSON form"},
    {"invoke", (PyCFunction)(void (*)(void))py_invoke, METH_FASTCALL, "call an export"},
    {"lower", (PyCFunction)(void (*)(void))py_lower, METH_FASTCALL, "lower a value"},
    {"lift", (PyCFunction)(void (*)(void))py_lift, METH_FASTCALL, "lift a value"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};

PyMODINIT_FUNC PyInit__native(void) {
    s_case = PyUnicode_InternFromString("case");
    s_value = PyUnicode_InternFromString("value");
    s_error = PyUnicode_InternFromString("error");
    s_ok = PyUnicode_InternFromString("ok");
    s_err = PyUnicode_InternFromString("err");
    if (!s_case || !s_value || !s_error || !s_ok || !s_err) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    MISMATCH_OBJ = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type);
    if (!MISMATCH_OBJ || PyModule_AddObjectRef(m, "MISMATCH", MISMATCH_OBJ) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
