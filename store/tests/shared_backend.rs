//! `SharedBuf` with an installed backend (its own test binary: the backend
//! is process-wide). Checks that long buffers come from the backend, are
//! given back exactly once, and are never written in place once exported.

use ferrite_store::types::shared::{self, Backend, SharedBuf, FOREIGN_MIN};
use ferrite_store::{Engine, Reply};
use std::alloc::Layout;
use std::sync::atomic::{AtomicUsize, Ordering};

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static FREES: AtomicUsize = AtomicUsize::new(0);

/// Allocations carry their size in a 16-byte prefix so `free` can rebuild
/// the layout.
unsafe fn alloc(size: usize) -> *mut u8 {
    ALLOCS.fetch_add(1, Ordering::SeqCst);
    let p = std::alloc::alloc(Layout::from_size_align(size + 16, 16).unwrap());
    (p as *mut usize).write(size);
    p.add(16)
}

unsafe fn free(p: *mut u8) {
    FREES.fetch_add(1, Ordering::SeqCst);
    let base = p.sub(16);
    let size = (base as *const usize).read();
    std::alloc::dealloc(base, Layout::from_size_align(size + 16, 16).unwrap());
}

static BACKEND: Backend = Backend { alloc, free };

#[test]
fn backend_buffers_are_exported_freed_once_and_never_edited_after_export() {
    shared::install(&BACKEND);

    // Short buffers stay with the global allocator.
    let small = SharedBuf::from_slice(&[1u8; FOREIGN_MIN - 1]);
    assert!(small.export().is_none());
    drop(small);
    assert_eq!(ALLOCS.load(Ordering::SeqCst), 0);

    let before = (ALLOCS.load(Ordering::SeqCst), FREES.load(Ordering::SeqCst));
    let mut a = SharedBuf::from_slice(&[7u8; 1000]);
    assert_eq!(ALLOCS.load(Ordering::SeqCst), before.0 + 1);
    assert!(a.overwrite(&[8u8; 1000]), "unique and unexported: in place");
    let obj = a.export().expect("a backend buffer");
    assert_eq!(obj.as_ptr() as usize + 40, a.as_bytes().as_ptr() as usize);
    let seen = a.as_bytes().as_ptr();
    assert!(!a.overwrite(&[9u8; 1000]), "exported: never in place");
    a.append(b"tail");
    assert_ne!(a.as_bytes().as_ptr(), seen, "exported: copied on write");
    assert_eq!(
        FREES.load(Ordering::SeqCst),
        before.1 + 1,
        "old buffer freed"
    );
    drop(a);
    assert_eq!(FREES.load(Ordering::SeqCst), before.1 + 2);

    // Through the engine: a GET reply shares the stored buffer; the value
    // survives an overwrite of the key while the reply lives.
    let engine = Engine::new();
    let mut s = engine.session();
    let v = vec![b'x'; 1024];
    engine.execute(&mut s, &[b"SET", b"k", &v]);
    let reply = engine.execute(&mut s, &[b"GET", b"k"]);
    let Reply::Bulk(ferrite_store::Bulk::Shared(buf)) = &reply else {
        panic!("not shared: {reply:?}")
    };
    assert!(buf.export().is_some());
    engine.execute(&mut s, &[b"SET", b"k", &vec![b'y'; 1024]]);
    engine.execute(&mut s, &[b"APPEND", b"k", b"z"]);
    assert_eq!(&**buf, &v[..]);
    let frees = FREES.load(Ordering::SeqCst);
    drop(reply);
    assert_eq!(
        FREES.load(Ordering::SeqCst),
        frees + 1,
        "last reference freed"
    );
}
