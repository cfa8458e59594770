//! `Reply` to terms, in RESP2 shapes (what a Redis client sees over RESP2):
//!
//! | Reply | term |
//! |-------|------|
//! | `Status("OK")` | `"OK"` |
//! | `Nil`, `NilArray` | `nil` |
//! | `Int(n)` | `n` |
//! | `Bulk(b)`, `Verbatim(s)` | binary |
//! | `Array`, `Set`, `Push` | list |
//! | `Map` | flat list `[k1, v1, k2, v2, ...]` |
//! | `Double(d)` | binary, as Redis 7.0 formats it (`%.17g`, `inf`, `-inf`) |
//! | `Bool(b)` | `1` / `0` |
//! | `Error(msg)` | `%Ferrite.ResponseError{message: msg}` |
//!
//! An error at the top of a command's reply becomes
//! `{:error, %Ferrite.ResponseError{}}`; inside an array (EXEC, pipelines)
//! it stays a bare struct, as Redix does.

use ferrite_store::types::shared::SharedBuf;
use ferrite_store::{Bulk, Reply};
use rustler::sys::{
    enif_make_int64, enif_make_list_from_array, enif_make_map_from_arrays, enif_make_new_binary,
    ErlNifTerm,
};
use rustler::{Encoder, Env, Term};

rustler::atoms! {
    /// `:ok`
    ok,
    /// `:error`
    error,
    /// `nil`
    nil,
    /// `:__struct__`
    __struct__,
    /// `:__exception__`
    __exception__,
    /// `:message`
    message,
    /// `true`
    true_ = "true",
    /// `Ferrite.ResponseError`
    response_error = "Elixir.Ferrite.ResponseError",
}

/// A binary term holding a copy of `b`.
#[inline]
pub fn binary<'a>(env: Env<'a>, b: &[u8]) -> Term<'a> {
    let mut term: ErlNifTerm = ErlNifTerm::default();
    // SAFETY: enif_make_new_binary returns `b.len()` writable bytes that
    // belong to `term`; we fill all of them before the term escapes.
    unsafe {
        let p = enif_make_new_binary(env.as_c_arg(), b.len(), &mut term);
        std::ptr::copy_nonoverlapping(b.as_ptr(), p, b.len());
        Term::new(env, term)
    }
}

/// `bytes` as a binary: over `shared`, their stored buffer, without a
/// copy when it is a resource object (see [`crate::strbuf`]), else copied.
#[inline]
pub fn shared_or_copy<'a>(env: Env<'a>, shared: Option<&SharedBuf>, bytes: &[u8]) -> Term<'a> {
    shared
        .and_then(|buf| crate::strbuf::binary(env, buf))
        .unwrap_or_else(|| binary(env, bytes))
}

#[inline]
fn bulk<'a>(env: Env<'a>, b: &Bulk) -> Term<'a> {
    match b {
        Bulk::Shared(buf) => shared_or_copy(env, Some(buf), b),
        _ => binary(env, b),
    }
}

/// `%Ferrite.ResponseError{message: msg}`.
pub fn error_struct<'a>(env: Env<'a>, msg: &str) -> Term<'a> {
    let keys = [
        __struct__().encode(env).as_c_arg(),
        __exception__().encode(env).as_c_arg(),
        message().encode(env).as_c_arg(),
    ];
    let vals = [
        response_error().encode(env).as_c_arg(),
        true_().encode(env).as_c_arg(),
        binary(env, msg.as_bytes()).as_c_arg(),
    ];
    let mut out: ErlNifTerm = ErlNifTerm::default();
    // SAFETY: three distinct atom keys, all terms in `env`.
    unsafe {
        enif_make_map_from_arrays(
            env.as_c_arg(),
            keys.as_ptr(),
            vals.as_ptr(),
            keys.len(),
            &mut out,
        );
        Term::new(env, out)
    }
}

/// `{:error, %Ferrite.ResponseError{message: msg}}`.
pub fn error_tuple<'a>(env: Env<'a>, msg: &str) -> Term<'a> {
    (error(), error_struct(env, msg)).encode(env)
}

fn list<'a>(env: Env<'a>, items: impl ExactSizeIterator<Item = Term<'a>>) -> Term<'a> {
    let terms: Vec<ErlNifTerm> = items.map(|t| t.as_c_arg()).collect();
    // SAFETY: all terms belong to `env`.
    unsafe {
        Term::new(
            env,
            enif_make_list_from_array(env.as_c_arg(), terms.as_ptr(), terms.len() as u32),
        )
    }
}

/// A reply as a term (errors as bare structs).
pub fn encode_reply<'a>(env: Env<'a>, reply: &Reply) -> Term<'a> {
    match reply {
        Reply::Bulk(b) => bulk(env, b),
        Reply::Status(s) => binary(env, s.as_bytes()),
        Reply::Verbatim(s) => binary(env, s.as_bytes()),
        Reply::Int(i) => int(env, *i),
        Reply::Nil | Reply::NilArray => nil().encode(env),
        Reply::Error(msg) => error_struct(env, msg),
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
            list(env, items.iter().map(|r| encode_reply(env, r)))
        }
        Reply::Map(pairs) => {
            let mut terms: Vec<ErlNifTerm> = Vec::with_capacity(pairs.len() * 2);
            for (k, v) in pairs {
                terms.push(encode_reply(env, k).as_c_arg());
                terms.push(encode_reply(env, v).as_c_arg());
            }
            // SAFETY: all terms belong to `env`.
            unsafe {
                Term::new(
                    env,
                    enif_make_list_from_array(env.as_c_arg(), terms.as_ptr(), terms.len() as u32),
                )
            }
        }
        Reply::Double(d) => binary(env, ferrite_store::util::fmt_g17(*d).as_bytes()),
        Reply::Bool(b) => int(env, i64::from(*b)),
    }
}

#[inline]
fn int(env: Env<'_>, i: i64) -> Term<'_> {
    // SAFETY: plain integer construction in `env`.
    unsafe { Term::new(env, enif_make_int64(env.as_c_arg(), i)) }
}

/// `{:ok, term}`.
#[inline]
pub fn ok_tuple<'a>(env: Env<'a>, term: Term<'a>) -> Term<'a> {
    (ok(), term).encode(env)
}

/// A command's result: `{:ok, term}` or `{:error, %ResponseError{}}`.
#[inline]
pub fn encode_result<'a>(env: Env<'a>, reply: &Reply) -> Term<'a> {
    match reply {
        Reply::Error(msg) => error_tuple(env, msg),
        r => ok_tuple(env, encode_reply(env, r)),
    }
}
