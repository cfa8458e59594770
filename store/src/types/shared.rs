//! `SharedBuf`: the reference-counted byte buffer behind long strings.
//!
//! One allocation holds a small header and the bytes. Clones share the
//! buffer (a reply can hand out the stored bytes without copying), and a
//! buffer nobody else holds is edited in place (APPEND grows it with
//! spare capacity, a SET of a same-sized value overwrites it).
//!
//! Where the memory comes from is pluggable ([`install`]): the NIF installs
//! a backend that allocates every long buffer as a BEAM resource object, so
//! that a GET returns a resource binary over the stored bytes (a reference
//! count bump, as `:ets.lookup` hands out a stored binary) instead of
//! copying them. Without a backend (tests, the RESP server example) the
//! global allocator is used.
//!
//! Invariants kept here:
//! - `refs` counts the `SharedBuf` values pointing at the header; the
//!   allocation is given back (through the header's own `free`, so buffers
//!   of different backends may coexist) when the last one drops.
//! - Bytes are changed in place only when `refs == 1` and the buffer was
//!   never exported: an exported buffer may be read by BEAM binaries at any
//!   time, and binaries are immutable, so it is copied on write instead.
//! - `len <= cap`, and the `cap` bytes after the header are allocated.

use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicUsize, Ordering};

#[repr(C)]
struct Header {
    refs: AtomicUsize,
    len: usize,
    cap: usize,
    /// Gives the allocation (header included) back.
    free: unsafe fn(*mut u8),
    /// Allocated by the installed backend: `export` may hand it out.
    foreign: bool,
    /// Handed out by `export`: never written in place again.
    exported: AtomicBool,
}

const HEADER: usize = std::mem::size_of::<Header>();
const ALIGN: usize = std::mem::align_of::<Header>();

/// Buffers at most this long come from the global allocator even with a
/// backend installed: the BEAM copies binaries of up to 64 bytes onto the
/// process heap anyway, so sharing them gains nothing.
pub const FOREIGN_MIN: usize = 65;

/// Growth past the requested size is capped at this many bytes, as Redis
/// caps its string preallocation (`SDS_MAX_PREALLOC`).
const MAX_PREALLOC: usize = 1024 * 1024;

/// A memory source for long buffers.
pub struct Backend {
    /// Allocates `size` bytes aligned to 8, or returns null.
    pub alloc: unsafe fn(size: usize) -> *mut u8,
    /// Gives back a pointer `alloc` returned.
    pub free: unsafe fn(*mut u8),
}

static BACKEND: AtomicPtr<Backend> = AtomicPtr::new(std::ptr::null_mut());

/// Installs the memory source for buffers created from now on (the first
/// call wins; later calls are ignored). Buffers already allocated keep
/// their own `free`.
pub fn install(backend: &'static Backend) {
    let _ = BACKEND.compare_exchange(
        std::ptr::null_mut(),
        backend as *const Backend as *mut Backend,
        Ordering::AcqRel,
        Ordering::Acquire,
    );
}

unsafe fn std_free(p: *mut u8) {
    // SAFETY (caller): `p` is a header allocated by `std_alloc` with this cap.
    let cap = (*(p as *const Header)).cap;
    std::alloc::dealloc(p, Layout::from_size_align_unchecked(HEADER + cap, ALIGN));
}

/// A shared, copy-on-write byte buffer (one pointer wide).
pub struct SharedBuf(NonNull<Header>);

// SAFETY: the header's counters are atomic; the bytes are written only
// through `&mut self` while `refs == 1` (no other `SharedBuf` can read them)
// and never after an export.
unsafe impl Send for SharedBuf {}
unsafe impl Sync for SharedBuf {}

impl SharedBuf {
    /// A buffer holding a copy of `b`, with room for `cap` bytes
    /// (`cap >= b.len()`).
    pub fn with_capacity(b: &[u8], cap: usize) -> SharedBuf {
        let cap = cap.max(b.len());
        let size = HEADER.checked_add(cap).expect("buffer size overflow");
        let backend = BACKEND.load(Ordering::Acquire);
        let mut raw: *mut u8 = std::ptr::null_mut();
        let mut free: unsafe fn(*mut u8) = std_free;
        if !backend.is_null() && cap >= FOREIGN_MIN {
            // SAFETY: installed backends are 'static.
            let backend = unsafe { &*backend };
            // SAFETY: the backend's contract: `size` bytes or null.
            let p = unsafe { (backend.alloc)(size) };
            if !p.is_null() && (p as usize).is_multiple_of(ALIGN) {
                raw = p;
                free = backend.free;
            } else if !p.is_null() {
                // SAFETY: `p` came from this backend.
                unsafe { (backend.free)(p) };
            }
        }
        let foreign = !raw.is_null();
        if raw.is_null() {
            let layout = Layout::from_size_align(size, ALIGN).expect("buffer layout");
            // SAFETY: the layout has a non-zero size (the header).
            raw = unsafe { std::alloc::alloc(layout) };
            if raw.is_null() {
                std::alloc::handle_alloc_error(layout);
            }
        }
        // SAFETY: `raw` holds `HEADER + cap` bytes aligned for `Header`.
        unsafe {
            (raw as *mut Header).write(Header {
                refs: AtomicUsize::new(1),
                len: b.len(),
                cap,
                free,
                foreign,
                exported: AtomicBool::new(false),
            });
            std::ptr::copy_nonoverlapping(b.as_ptr(), raw.add(HEADER), b.len());
            SharedBuf(NonNull::new_unchecked(raw as *mut Header))
        }
    }

    /// A buffer holding exactly a copy of `b`.
    #[inline]
    pub fn from_slice(b: &[u8]) -> SharedBuf {
        SharedBuf::with_capacity(b, b.len())
    }

    #[inline]
    fn header(&self) -> &Header {
        // SAFETY: the header lives as long as any `SharedBuf` on it.
        unsafe { self.0.as_ref() }
    }

    #[inline]
    fn data(&self) -> *mut u8 {
        // SAFETY: the bytes follow the header in the same allocation.
        unsafe { (self.0.as_ptr() as *mut u8).add(HEADER) }
    }

    /// The bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: `len` bytes after the header are initialised.
        unsafe { std::slice::from_raw_parts(self.data(), self.header().len) }
    }

    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.header().len
    }

    /// True when empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the buffer can hold without reallocating.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.header().cap
    }

    /// Heap bytes of the allocation (header and capacity).
    pub fn heap_size(&self) -> usize {
        HEADER + self.capacity()
    }

    /// True when the bytes may be written in place: this is the only
    /// reference and no binary was ever made over them.
    #[inline]
    pub fn is_unique(&self) -> bool {
        // Acquire pairs with the Release decrement in `drop`, so an export
        // made through a clone before it dropped is seen here.
        let h = self.header();
        h.refs.load(Ordering::Acquire) == 1 && !h.exported.load(Ordering::Relaxed)
    }

    /// For the backend's owner: marks the buffer as handed out (never
    /// written in place again) and returns the backend's object, when the
    /// buffer came from the installed backend. The object stays valid for
    /// as long as this `SharedBuf` lives; what the backend does with it
    /// (for the NIF: a resource binary, which takes its own reference) must
    /// not outlive that unless it takes a reference of its own.
    pub fn export(&self) -> Option<NonNull<u8>> {
        let h = self.header();
        if !h.foreign {
            return None;
        }
        h.exported.store(true, Ordering::Relaxed);
        Some(self.0.cast())
    }

    /// Replaces the bytes with `b` in place when the buffer is unique and
    /// its capacity fits `b` without wasting more than half of it (so a
    /// small value never keeps a large buffer). False, with nothing
    /// changed, otherwise.
    pub fn overwrite(&mut self, b: &[u8]) -> bool {
        let cap = self.capacity();
        if !self.is_unique() || cap < b.len() || cap > 2 * b.len() {
            return false;
        }
        // SAFETY: unique, and `b.len() <= cap`.
        unsafe {
            std::ptr::copy_nonoverlapping(b.as_ptr(), self.data(), b.len());
            (*self.0.as_ptr()).len = b.len();
        }
        true
    }

    /// Capacity for a buffer growing to `need` bytes: doubled up to 1 MiB,
    /// then 1 MiB of headroom (Redis's `sdsMakeRoomFor` policy), so a run
    /// of APPENDs costs amortised O(1) per byte.
    fn grown(need: usize) -> usize {
        if need < MAX_PREALLOC {
            need * 2
        } else {
            need.saturating_add(MAX_PREALLOC)
        }
    }

    /// Makes the buffer writable for `new_len` bytes: in place when unique
    /// and large enough, else a fresh copy with room to grow. Bytes between
    /// the old and new lengths are zeroed. Returns the writable bytes.
    fn make_room(&mut self, new_len: usize) -> &mut [u8] {
        let len = self.len();
        if !(self.is_unique() && self.capacity() >= new_len) {
            let cap = if new_len > len {
                SharedBuf::grown(new_len)
            } else {
                new_len
            };
            *self = SharedBuf::with_capacity(self.as_bytes(), cap);
        }
        // SAFETY: unique now, and `new_len <= cap`.
        unsafe {
            if new_len > len {
                std::ptr::write_bytes(self.data().add(len), 0, new_len - len);
            }
            (*self.0.as_ptr()).len = new_len.max(len);
            std::slice::from_raw_parts_mut(self.data(), new_len.max(len))
        }
    }

    /// Appends `add` (in place when possible).
    pub fn append(&mut self, add: &[u8]) {
        let len = self.len();
        let bytes = self.make_room(len + add.len());
        bytes[len..].copy_from_slice(add);
    }

    /// Writes `data` at `offset`, zero-padding when the buffer is shorter
    /// (SETRANGE).
    pub fn write_at(&mut self, offset: usize, data: &[u8]) {
        let end = offset + data.len();
        let bytes = self.make_room(end.max(self.len()));
        bytes[offset..end].copy_from_slice(data);
    }
}

impl Clone for SharedBuf {
    #[inline]
    fn clone(&self) -> SharedBuf {
        // Relaxed, as `Arc`: a new reference is made from an existing one.
        self.header().refs.fetch_add(1, Ordering::Relaxed);
        SharedBuf(self.0)
    }
}

impl Drop for SharedBuf {
    #[inline]
    fn drop(&mut self) {
        if self.header().refs.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        let free = self.header().free;
        // SAFETY: the last reference; `free` is the allocation's own.
        unsafe { free(self.0.as_ptr() as *mut u8) }
    }
}

impl std::ops::Deref for SharedBuf {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for SharedBuf {
    fn eq(&self, other: &SharedBuf) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for SharedBuf {}

impl std::fmt::Debug for SharedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_shares_and_blocks_in_place_writes() {
        let mut a = SharedBuf::with_capacity(b"hello", 16);
        assert!(a.is_unique());
        let b = a.clone();
        assert!(!a.is_unique());
        a.append(b" world");
        // `a` was copied on write: `b` still sees the old bytes.
        assert_eq!(a.as_bytes(), b"hello world");
        assert_eq!(b.as_bytes(), b"hello");
        drop(b);
        assert!(a.is_unique());
    }

    #[test]
    fn append_grows_with_headroom_and_stays_in_place() {
        let mut a = SharedBuf::from_slice(&[1u8; 100]);
        a.append(&[2u8; 10]);
        let cap = a.capacity();
        assert_eq!(cap, 220);
        let p = a.as_bytes().as_ptr();
        a.append(&[3u8; 50]);
        assert_eq!(a.as_bytes().as_ptr(), p, "appended in place");
        assert_eq!(a.len(), 160);
        assert_eq!(&a.as_bytes()[100..110], &[2u8; 10]);
        assert_eq!(&a.as_bytes()[110..], &[3u8; 50]);
    }

    #[test]
    fn write_at_pads_with_zeros() {
        let mut a = SharedBuf::from_slice(b"abc");
        a.write_at(6, b"xy");
        assert_eq!(a.as_bytes(), b"abc\0\0\0xy");
        a.write_at(1, b"Z");
        assert_eq!(a.as_bytes(), b"aZc\0\0\0xy");
    }

    #[test]
    fn overwrite_needs_unique_and_a_fitting_capacity() {
        let mut a = SharedBuf::from_slice(&[0u8; 40]);
        assert!(a.overwrite(&[1u8; 30]));
        assert_eq!(a.as_bytes(), &[1u8; 30]);
        assert!(!a.overwrite(&[1u8; 41]), "too long");
        assert!(!a.overwrite(&[1u8; 10]), "would waste the buffer");
        let b = a.clone();
        assert!(!a.overwrite(&[2u8; 30]), "shared");
        assert_eq!(b.as_bytes(), &[1u8; 30]);
    }

    #[test]
    fn export_is_none_without_a_backend() {
        let a = SharedBuf::from_slice(&[0u8; 100]);
        assert!(a.export().is_none());
        assert!(a.is_unique(), "a refused export leaves the buffer writable");
    }
}
