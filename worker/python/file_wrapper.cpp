// wsgi.file_wrapper. Iterating it reads the file in blksize pieces, which is
// the fallback the response takes when it cannot use sendfile (no fileno(),
// not a regular file, a writer that must frame or encrypt the body).
#include "worker/python/file_wrapper.hpp"

#include <structmember.h>

namespace drover {

namespace {

constexpr Py_ssize_t kDefaultBlockSize = 8192;

struct FileWrapperObject {
    PyObject ob_base;
    PyObject* filelike;
    Py_ssize_t blksize;
};

FileWrapperObject* as_wrapper(PyObject* self) { return reinterpret_cast<FileWrapperObject*>(self); }

PyObject* wrapper_new(PyTypeObject* type, PyObject* args, PyObject* kwargs)
{
    static const char* keywords[] = {"filelike", "blksize", nullptr};
    PyObject* filelike = nullptr;
    Py_ssize_t blksize = kDefaultBlockSize;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|n:file_wrapper", const_cast<char**>(keywords), &filelike,
                                     &blksize))
        return nullptr;
    if (blksize <= 0) {
        PyErr_SetString(PyExc_ValueError, "file_wrapper blksize must be positive");
        return nullptr;
    }
    PyObject* self = type->tp_alloc(type, 0);
    if (!self)
        return nullptr;
    Py_INCREF(filelike);
    as_wrapper(self)->filelike = filelike;
    as_wrapper(self)->blksize = blksize;
    return self;
}

PyObject* wrapper_iternext(PyObject* self)
{
    FileWrapperObject* wrapper = as_wrapper(self);
    if (!wrapper->filelike)
        return nullptr;
    PyObject* data = PyObject_CallMethod(wrapper->filelike, "read", "n", wrapper->blksize);
    if (!data)
        return nullptr;
    int more = PyObject_IsTrue(data);
    if (more <= 0) {
        Py_DECREF(data);
        return nullptr;  // StopIteration, or the exception of a failed __bool__
    }
    return data;
}

PyObject* wrapper_close(PyObject* self, PyObject*)
{
    FileWrapperObject* wrapper = as_wrapper(self);
    if (!wrapper->filelike)
        Py_RETURN_NONE;
    PyObject* close = PyObject_GetAttrString(wrapper->filelike, "close");
    if (!close) {
        // PEP 3333: close() exists "if the file-like object has a close()".
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            return nullptr;
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    PyObject* result = PyObject_CallNoArgs(close);
    Py_DECREF(close);
    return result;
}

int wrapper_traverse(PyObject* self, visitproc visit, void* arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(as_wrapper(self)->filelike);
    return 0;
}

int wrapper_clear(PyObject* self)
{
    Py_CLEAR(as_wrapper(self)->filelike);
    return 0;
}

void wrapper_dealloc(PyObject* self)
{
    PyTypeObject* type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    wrapper_clear(self);
    type->tp_free(self);
    Py_DECREF(type);
}

PyMethodDef wrapper_methods[] = {
    {"close", wrapper_close, METH_NOARGS, "close the wrapped file"},
    {nullptr, nullptr, 0, nullptr},
};

PyMemberDef wrapper_members[] = {
    {const_cast<char*>("filelike"), T_OBJECT_EX, offsetof(FileWrapperObject, filelike), READONLY, nullptr},
    {const_cast<char*>("blksize"), T_PYSSIZET, offsetof(FileWrapperObject, blksize), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr},
};

PyType_Slot wrapper_slots[] = {
    {Py_tp_new, reinterpret_cast<void*>(wrapper_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(wrapper_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(wrapper_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(wrapper_clear)},
    {Py_tp_iter, reinterpret_cast<void*>(PyObject_SelfIter)},
    {Py_tp_iternext, reinterpret_cast<void*>(wrapper_iternext)},
    {Py_tp_methods, wrapper_methods},
    {Py_tp_members, wrapper_members},
    {Py_tp_doc, const_cast<char*>("wsgi.file_wrapper(filelike, blksize=8192)")},
    {0, nullptr},
};

PyType_Spec wrapper_spec = {
    "drover.FileWrapper",
    sizeof(FileWrapperObject),
    0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    wrapper_slots,
};

} // namespace

PyObject* file_wrapper_type()
{
    static PyObject* type = PyType_FromSpec(&wrapper_spec);  // lives as long as the interpreter
    return type;
}

PyObject* file_wrapper_filelike(PyObject* result)
{
    // The type is not subclassable, so identity is the whole test.
    if (!result || reinterpret_cast<PyObject*>(Py_TYPE(result)) != file_wrapper_type())
        return nullptr;
    return as_wrapper(result)->filelike;
}

} // namespace drover
