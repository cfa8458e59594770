//! Property tests of the RESP codec: every frame round-trips in RESP2 and
//! RESP3, in any chunking, and random or truncated bytes never panic.

use ferrite_store::resp::reply_decoder::decode_all;
use ferrite_store::resp::{encode_command, to_bytes, Limits, ReplyDecoder, RequestDecoder};
use ferrite_store::util::fmt_g17;
use ferrite_store::Reply;
use proptest::prelude::*;

/// Text without CR/LF (status and error lines cannot carry them).
fn line_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 :_.'\"-]{0,20}"
}

fn scalar() -> impl Strategy<Value = Reply> {
    prop_oneof![
        line_text().prop_map(|s| Reply::Status(s.into())),
        line_text().prop_map(|s| Reply::Error(format!("ERR {s}"))),
        any::<i64>().prop_map(Reply::Int),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Reply::bulk_vec),
        Just(Reply::Nil),
        Just(Reply::NilArray),
        any::<f64>()
            .prop_filter("not NaN", |d| !d.is_nan())
            .prop_map(Reply::Double),
        any::<bool>().prop_map(Reply::Bool),
        ".{0,20}".prop_map(Reply::Verbatim),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    scalar().prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Reply::Array),
            proptest::collection::vec((inner.clone(), inner.clone()), 0..4).prop_map(Reply::Map),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Reply::Set),
            proptest::collection::vec(inner, 0..6).prop_map(Reply::Push),
        ]
    })
}

/// What a RESP3 client reads back: both nulls are `_`.
fn as_read_resp3(r: &Reply) -> Reply {
    match r {
        Reply::NilArray => Reply::Nil,
        Reply::Array(v) => Reply::Array(v.iter().map(as_read_resp3).collect()),
        Reply::Set(v) => Reply::Set(v.iter().map(as_read_resp3).collect()),
        Reply::Push(v) => Reply::Push(v.iter().map(as_read_resp3).collect()),
        Reply::Map(v) => Reply::Map(
            v.iter()
                .map(|(k, v)| (as_read_resp3(k), as_read_resp3(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// What a RESP2 client reads back: Redis 7.0's downgrades.
fn as_read_resp2(r: &Reply) -> Reply {
    match r {
        Reply::Array(v) | Reply::Set(v) | Reply::Push(v) => {
            Reply::Array(v.iter().map(as_read_resp2).collect())
        }
        Reply::Map(v) => Reply::Array(
            v.iter()
                .flat_map(|(k, v)| [as_read_resp2(k), as_read_resp2(v)])
                .collect(),
        ),
        Reply::Double(d) => Reply::text(fmt_g17(*d)),
        Reply::Bool(b) => Reply::Int(*b as i64),
        Reply::Verbatim(s) => Reply::text(s.clone()),
        other => other.clone(),
    }
}

/// Decodes `bytes` fed in the given chunk sizes.
fn decode_chunked(bytes: &[u8], cuts: &[usize]) -> Vec<Reply> {
    let mut d = ReplyDecoder::new();
    let mut out = Vec::new();
    let mut at: usize = 0;
    for &c in cuts.iter().chain(std::iter::once(&usize::MAX)) {
        let end = at.saturating_add(c.max(1)).min(bytes.len());
        d.feed(&bytes[at..end]);
        at = end;
        while let Some(r) = d.next_reply().expect("valid stream") {
            out.push(r);
        }
        if at == bytes.len() {
            break;
        }
    }
    assert!(d.is_idle(), "decoder left bytes behind");
    out
}

fn argv_strategy() -> impl Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..30), 1..8)
}

/// Decodes requests fed in the given chunk sizes.
fn requests_chunked(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<Vec<u8>>> {
    let mut d = RequestDecoder::new();
    let mut out = Vec::new();
    let mut at: usize = 0;
    let limits = Limits::default();
    for &c in cuts.iter().chain(std::iter::once(&usize::MAX)) {
        let end = at.saturating_add(c.max(1)).min(bytes.len());
        d.feed(&bytes[at..end]);
        at = end;
        loop {
            d.parse(&limits, 3).expect("valid requests");
            if d.batch_len() == 0 {
                break;
            }
            out.extend((0..d.batch_len()).map(|i| d.argv_owned(i)));
        }
        if at == bytes.len() {
            break;
        }
    }
    assert!(d.is_drained(), "decoder left bytes behind");
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn resp3_round_trip(replies in proptest::collection::vec(reply(), 1..4),
                        cuts in proptest::collection::vec(1usize..20, 0..30)) {
        let mut bytes = Vec::new();
        for r in &replies {
            bytes.extend(to_bytes(r, 3));
        }
        let want: Vec<Reply> = replies.iter().map(as_read_resp3).collect();
        prop_assert_eq!(decode_all(&bytes).unwrap(), want.clone());
        prop_assert_eq!(decode_chunked(&bytes, &cuts), want);
    }

    #[test]
    fn resp2_round_trip(replies in proptest::collection::vec(reply(), 1..4),
                        cuts in proptest::collection::vec(1usize..20, 0..30)) {
        let mut bytes = Vec::new();
        for r in &replies {
            bytes.extend(to_bytes(r, 2));
        }
        let want: Vec<Reply> = replies.iter().map(as_read_resp2).collect();
        prop_assert_eq!(decode_chunked(&bytes, &cuts), want);
    }

    #[test]
    fn multibulk_requests_round_trip(cmds in proptest::collection::vec(argv_strategy(), 1..6),
                                     cuts in proptest::collection::vec(1usize..40, 0..30)) {
        let mut bytes = Vec::new();
        for c in &cmds {
            encode_command(c, &mut bytes);
        }
        prop_assert_eq!(requests_chunked(&bytes, &cuts), cmds);
    }

    #[test]
    fn inline_requests_round_trip(cmds in proptest::collection::vec(
                                      proptest::collection::vec("[a-zA-Z0-9_:.-]{1,10}", 1..6), 1..6),
                                  cuts in proptest::collection::vec(1usize..40, 0..30)) {
        let mut bytes = Vec::new();
        for c in &cmds {
            bytes.extend(c.join("  ").as_bytes());
            bytes.extend(b"\r\n");
        }
        let want: Vec<Vec<Vec<u8>>> = cmds
            .iter()
            .map(|c| c.iter().map(|a| a.as_bytes().to_vec()).collect())
            .collect();
        prop_assert_eq!(requests_chunked(&bytes, &cuts), want);
    }

    #[test]
    fn quoted_inline_args_round_trip(args in proptest::collection::vec(
                                         proptest::collection::vec(any::<u8>(), 0..20), 1..5)) {
        // Every byte written as \xHH inside double quotes comes back as is.
        let mut line = b"SET".to_vec();
        for a in &args {
            line.extend(b" \"");
            for b in a {
                line.extend(format!("\\x{b:02x}").as_bytes());
            }
            line.push(b'"');
        }
        line.extend(b"\r\n");
        let mut d = RequestDecoder::new();
        d.feed(&line);
        d.parse(&Limits::default(), usize::MAX).unwrap();
        prop_assert_eq!(d.batch_len(), 1);
        let got = d.argv_owned(0);
        prop_assert_eq!(&got[1..], &args[..]);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300),
                                cuts in proptest::collection::vec(1usize..50, 0..10),
                                auth in any::<bool>()) {
        let limits = Limits { max_bulk: 1000, auth_required: auth };
        let mut d = RequestDecoder::new();
        let mut at: usize = 0;
        for &c in cuts.iter().chain(std::iter::once(&usize::MAX)) {
            let end = at.saturating_add(c).min(bytes.len());
            d.feed(&bytes[at..end]);
            at = end;
            if d.parse(&limits, usize::MAX).is_err() {
                break;
            }
            for i in 0..d.batch_len() {
                let _ = d.argv_owned(i);
            }
        }
        let mut r = ReplyDecoder::new();
        r.feed(&bytes);
        while let Ok(Some(_)) = r.next_reply() {}
    }

    #[test]
    fn mutated_frames_never_panic(reply in reply(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let mut bytes = to_bytes(&reply, 3);
        for (at, b) in flips {
            let n = bytes.len();
            bytes[at % n] = b;
        }
        let mut r = ReplyDecoder::new();
        r.feed(&bytes);
        while let Ok(Some(_)) = r.next_reply() {}
        let mut d = RequestDecoder::new();
        d.feed(&bytes);
        let _ = d.parse(&Limits::default(), usize::MAX);
    }

    #[test]
    fn truncated_frames_wait(reply in reply(), cut in any::<usize>()) {
        // A strict prefix of a valid frame is never an error and never a reply.
        let bytes = to_bytes(&reply, 3);
        let cut = cut % bytes.len();
        let mut r = ReplyDecoder::new();
        r.feed(&bytes[..cut]);
        prop_assert_eq!(r.next_reply(), Ok(None));
        r.feed(&bytes[cut..]);
        prop_assert_eq!(r.next_reply(), Ok(Some(as_read_resp3(&reply))));
    }

    #[test]
    fn truncated_requests_wait(argv in argv_strategy(), cut in any::<usize>()) {
        let mut bytes = Vec::new();
        encode_command(&argv, &mut bytes);
        let cut = cut % bytes.len();
        let mut d = RequestDecoder::new();
        d.feed(&bytes[..cut]);
        d.parse(&Limits::default(), usize::MAX).unwrap();
        prop_assert_eq!(d.batch_len(), 0);
        d.feed(&bytes[cut..]);
        d.parse(&Limits::default(), usize::MAX).unwrap();
        prop_assert_eq!(d.batch_len(), 1);
        prop_assert_eq!(d.argv_owned(0), argv);
    }
}

/// The committed corpus of hostile inputs (`tests/corpus/*.bin`): each is
/// fed to both decoders whole and byte by byte; none may panic.
#[test]
fn corpus_never_panics() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus directory") {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        n += 1;
        for chunk in [bytes.len().max(1), 1] {
            let mut d = RequestDecoder::new();
            let mut r = ReplyDecoder::new();
            for piece in bytes.chunks(chunk) {
                d.feed(piece);
                if d.parse(&Limits::default(), usize::MAX).is_err() {
                    break;
                }
            }
            for piece in bytes.chunks(chunk) {
                r.feed(piece);
                let mut failed = false;
                loop {
                    match r.next_reply() {
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(_) => {
                            failed = true;
                            break;
                        }
                    }
                }
                if failed {
                    break;
                }
            }
        }
    }
    assert!(n >= 10, "corpus has {n} files");
}

#[test]
fn huge_counts_do_not_allocate_up_front() {
    // A claimed 2^31-1 arguments or elements with no data behind them must
    // not reserve memory for them.
    let mut d = RequestDecoder::new();
    d.feed(b"*2147483647\r\n$3\r\nGET\r\n");
    d.parse(&Limits::default(), usize::MAX).unwrap();
    assert_eq!(d.batch_len(), 0);
    let mut r = ReplyDecoder::new();
    r.feed(b"*2147483647\r\n%2147483647\r\n~5\r\n");
    assert_eq!(r.next_reply(), Ok(None));
}
