//! Long stored strings as BEAM resource objects.
//!
//! At load, this module installs a [`ferrite_store::types::shared`]
//! backend that allocates every long string buffer (over 64 bytes) as a
//! resource object of a type with no destructor. The engine keeps one
//! reference (the one `enif_alloc_resource` returns) and gives it back with
//! `enif_release_resource` when its last `SharedBuf` drops. A GET then
//! answers with `enif_make_resource_binary` over the stored bytes: the
//! binary takes its own reference, so it stays valid after the key is
//! overwritten or deleted, and no byte is copied; this is what
//! `:ets.lookup` does with a stored refc binary.
//!
//! Invariant: a buffer handed out here is marked exported (`SharedBuf::
//! export`), and the engine never writes an exported buffer in place, so a
//! binary's bytes never change.

use ferrite_store::types::shared::{self, Backend, SharedBuf};
use rustler::sys::{
    enif_alloc_resource, enif_make_resource_binary, enif_open_resource_type, enif_release_resource,
    ErlNifResourceFlags, ErlNifResourceType, ErlNifTerm,
};
use rustler::{Env, Term};
use std::ffi::c_void;
use std::sync::atomic::{AtomicPtr, Ordering};

static TYPE: AtomicPtr<ErlNifResourceType> = AtomicPtr::new(std::ptr::null_mut());

unsafe fn alloc(size: usize) -> *mut u8 {
    let ty = TYPE.load(Ordering::Acquire);
    if ty.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: a resource type opened at load; thread-safe allocation.
    enif_alloc_resource(ty, size) as *mut u8
}

unsafe fn free(p: *mut u8) {
    // SAFETY: `p` came from `alloc`; this drops the engine's reference.
    enif_release_resource(p as *const c_void);
}

static BACKEND: Backend = Backend { alloc, free };

/// Opens the resource type and installs the backend. Called from the
/// NIF's `load`; false (load fails) when the type cannot be opened.
pub fn install(env: Env<'_>) -> bool {
    if !TYPE.load(Ordering::Acquire).is_null() {
        return true;
    }
    let mut tried = ErlNifResourceFlags::ERL_NIF_RT_CREATE;
    // SAFETY: called in the load callback's env; no destructor is needed
    // (the bytes are plain data inside the object).
    let ty = unsafe {
        enif_open_resource_type(
            env.as_c_arg(),
            std::ptr::null(),
            c"ferrite_strbuf".as_ptr(),
            None,
            ErlNifResourceFlags::ERL_NIF_RT_CREATE,
            &mut tried,
        )
    };
    if ty.is_null() {
        return false;
    }
    TYPE.store(ty as *mut ErlNifResourceType, Ordering::Release);
    shared::install(&BACKEND);
    true
}

/// A binary term over `buf`'s bytes without copying them, when `buf` is a
/// resource object; `None` otherwise (the caller copies).
#[inline]
pub fn binary<'a>(env: Env<'a>, buf: &SharedBuf) -> Option<Term<'a>> {
    let obj = buf.export()?;
    let bytes = buf.as_bytes();
    // SAFETY: `obj` is a live resource object (`buf` holds a reference
    // for the duration of this call) and `bytes` lie inside it; the binary
    // takes its own reference, and exported bytes are never written again.
    unsafe {
        let term: ErlNifTerm = enif_make_resource_binary(
            env.as_c_arg(),
            obj.as_ptr() as *const c_void,
            bytes.as_ptr() as *const c_void,
            bytes.len(),
        );
        Some(Term::new(env, term))
    }
}
