"""The same lock seen from other languages: a plain `SET key NX PX` client
(any language's redis library) and, when built, the C ABI (ffi/)."""

import ctypes
import os
import pathlib

import pytest

import redlead

ROOT = pathlib.Path(__file__).resolve().parents[3]
LIBREDLEAD = ROOT / "target" / "release" / "libredlead.so"


def test_python_lock_excludes_plain_set_nx_on_the_same_key(client, nodes, res):
    key = f"redlead:{{{res}}}"
    with client.lock(res, ttl_ms=5_000) as lock:
        assert lock.key == key
        refused = [n.cmd("SET", key, "plain-client", "NX", "PX", "5000") for n in nodes]
        assert refused.count(None) >= 3, refused  # a quorum refuses the plain client
    # Once released, a plain client gets it everywhere.
    granted = [n.cmd("SET", key, "plain-client", "NX", "PX", "5000") for n in nodes]
    assert granted == ["OK"] * 5
    # ... and then Python is excluded.
    assert client.try_acquire(res, ttl_ms=1_000) is None
    for n in nodes:
        n.cmd("DEL", key)


class _C:
    def __init__(self, path):
        lib = ctypes.CDLL(str(path))
        vp, u64 = ctypes.c_void_p, ctypes.c_uint64
        lib.redlead_client_new.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t, vp,
                                           ctypes.POINTER(vp), ctypes.POINTER(vp)]
        lib.redlead_client_new.restype = ctypes.c_int
        lib.redlead_client_free.argtypes = [vp]
        lib.redlead_lock_try_acquire.argtypes = [vp, ctypes.c_char_p, u64, ctypes.c_uint32,
                                                 ctypes.POINTER(vp), ctypes.POINTER(vp)]
        lib.redlead_lock_try_acquire.restype = ctypes.c_int
        lib.redlead_lock_release.argtypes = [vp, ctypes.POINTER(vp)]
        lib.redlead_lock_release.restype = ctypes.c_int
        lib.redlead_lock_free.argtypes = [vp]
        lib.redlead_error_free.argtypes = [vp]
        self.lib = lib

    def client(self, urls):
        arr = (ctypes.c_char_p * len(urls))(*[u.encode() for u in urls])
        out, err = ctypes.c_void_p(), ctypes.c_void_p()
        st = self.lib.redlead_client_new(arr, len(urls), None, ctypes.byref(out), ctypes.byref(err))
        assert st == 0, f"redlead_client_new: status {st}"
        return out

    def try_acquire(self, client, res, ttl_ms):
        out, err = ctypes.c_void_p(), ctypes.c_void_p()
        st = self.lib.redlead_lock_try_acquire(client, res.encode(), ttl_ms, 0,
                                               ctypes.byref(out), ctypes.byref(err))
        if err.value:
            self.lib.redlead_error_free(err)
        return st, out


@pytest.mark.skipif(not LIBREDLEAD.exists(),
                    reason=f"C ABI not built ({LIBREDLEAD} missing; cargo build --release -p redlead-ffi)")
def test_c_held_lock_excludes_python_and_vice_versa(client, urls, res):
    c = _C(LIBREDLEAD)
    cc = c.client(urls)
    try:
        st, clock = c.try_acquire(cc, res, 5_000)
        assert st == 0, f"C try_acquire: status {st}"
        assert client.try_acquire(res, ttl_ms=1_000) is None  # C holds it
        err = ctypes.c_void_p()
        assert c.lib.redlead_lock_release(clock, ctypes.byref(err)) == 0
        c.lib.redlead_lock_free(clock)

        with client.lock(res, ttl_ms=5_000):
            st, clock = c.try_acquire(cc, res, 1_000)
            assert st == 1, f"C got a lock Python holds (status {st})"  # REDLEAD_NOT_ACQUIRED
        st, clock = c.try_acquire(cc, res, 1_000)
        assert st == 0
        c.lib.redlead_lock_free(clock)
    finally:
        c.lib.redlead_client_free(cc)
