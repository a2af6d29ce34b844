/* pycall.h: the vectorcall protocol for sepconv's callable extension types.
 *
 * Calling an object whose type has only tp_call makes the interpreter pack
 * the arguments into a new tuple, and keyword arguments into a new dict,
 * on every call: a tenth of a microsecond or more, which is a tenth of the
 * whole prepared call on the smallest layers (kernels.Prepared).  With
 * vectorcall the caller's argument array is passed as it is.
 *
 * Cython (3.x) gives an extension type's __call__ only tp_call, so the
 * module turns vectorcall on here, once, after the type is ready: each
 * instance keeps the function pointer at `offset` bytes from its start (the
 * protocol reads it there), and the type's flag says that it does.  tp_call
 * stays, for callers that use it (PyObject_Call with a tuple).  A class
 * statement's subclass does not inherit the flag before Python 3.12: see
 * sepconv_inherit_vectorcall.
 */
#ifndef SEPCONV_PYCALL_H
#define SEPCONV_PYCALL_H

#include <Python.h>

#ifndef Py_TPFLAGS_HAVE_VECTORCALL  /* named _Py_TPFLAGS_HAVE_VECTORCALL in 3.8 */
#define Py_TPFLAGS_HAVE_VECTORCALL _Py_TPFLAGS_HAVE_VECTORCALL
#endif

typedef PyObject *(*sepconv_vectorcallfunc)(PyObject *callable, PyObject *const *args,
                                            size_t nargsf, PyObject *kwnames);

/* Turns vectorcall on for `type`, whose instances hold a
 * sepconv_vectorcallfunc at `offset`; -1 with an exception set when the
 * offset is not inside an instance. */
static int sepconv_use_vectorcall(PyTypeObject *type, Py_ssize_t offset)
{
    if (offset <= 0 || offset + (Py_ssize_t)sizeof(sepconv_vectorcallfunc) > type->tp_basicsize) {
        PyErr_SetString(PyExc_SystemError, "sepconv: vectorcall offset outside the instance");
        return -1;
    }
    type->tp_vectorcall_offset = offset;
    type->tp_flags |= Py_TPFLAGS_HAVE_VECTORCALL;
    PyType_Modified(type);
    return 0;
}


/* Whether `callable` is still called through `type`'s tp_call: a class
 * whose __call__ was reassigned after its flag was set, or a subclass with
 * a __call__ of its own, has another. */
static int sepconv_same_call(PyObject *callable, PyTypeObject *type)
{
    return Py_TYPE(callable)->tp_call == type->tp_call;
}

/* What the interpreter does for a type without vectorcall: the arguments
 * packed into a tuple and a dict of the keywords, and the type's tp_call.
 * The way out of a vectorcall function for calls it does not take itself
 * (PyObject_Call would come back to the vectorcall function). */
static PyObject *sepconv_call_slot(PyObject *callable, PyObject *const *args, size_t nargsf,
                                   PyObject *kwnames)
{
    ternaryfunc call = Py_TYPE(callable)->tp_call;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    PyObject *tuple, *dict = NULL, *result;
    Py_ssize_t i;
    if (call == NULL) {
        PyErr_Format(PyExc_TypeError, "'%.200s' object is not callable", Py_TYPE(callable)->tp_name);
        return NULL;
    }
    tuple = PyTuple_New(nargs);
    if (tuple == NULL)
        return NULL;
    for (i = 0; i < nargs; i++) {
        Py_INCREF(args[i]);
        PyTuple_SET_ITEM(tuple, i, args[i]);
    }
    if (nkw > 0) {
        dict = PyDict_New();
        for (i = 0; dict != NULL && i < nkw; i++) {
            if (PyDict_SetItem(dict, PyTuple_GET_ITEM(kwnames, i), args[nargs + i]) < 0)
                Py_CLEAR(dict);
        }
        if (dict == NULL) {
            Py_DECREF(tuple);
            return NULL;
        }
    }
    result = call(callable, tuple, dict);
    Py_DECREF(tuple);
    Py_XDECREF(dict);
    return result;
}

/* Turns vectorcall on for `type`, a subclass of `base` (which has it), when
 * it calls through base's tp_call: Python 3.9-3.11 do not pass the flag on
 * to a class made by a class statement.  0 when it was turned on, 1 when
 * the type has a call of its own, -1 with an exception set. */
static int sepconv_inherit_vectorcall(PyTypeObject *type, PyTypeObject *base)
{
    if (!PyType_IsSubtype(type, base) || !(base->tp_flags & Py_TPFLAGS_HAVE_VECTORCALL)) {
        PyErr_SetString(PyExc_SystemError, "sepconv: not a subclass of a vectorcall type");
        return -1;
    }
    if (type->tp_call != base->tp_call)
        return 1;
    type->tp_vectorcall_offset = base->tp_vectorcall_offset;
    type->tp_flags |= Py_TPFLAGS_HAVE_VECTORCALL;
    PyType_Modified(type);
    return 0;
}

#endif
