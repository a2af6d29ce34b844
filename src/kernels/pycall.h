/* pycall.h: the vectorcall protocol for one extension type.
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
 * stays, for callers that use it (PyObject_Call with a tuple).  Subclasses
 * would not inherit the flag from a static type, so the type should be
 * final.
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

#endif
