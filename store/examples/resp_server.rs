//! Serves an in-memory Ferrite engine over RESP until killed.
//!
//! `cargo run --release -p ferrite-store --example resp_server -- --port 6380 [--bind 127.0.0.1] [--requirepass pw]`

use ferrite_store::resp::listener::{ListenOptions, Listener};
use ferrite_store::Engine;

fn main() {
    let mut opts = ListenOptions::default();
    let mut requirepass = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().expect("option value");
        match a.as_str() {
            "--port" => opts.port = val().parse().expect("port number"),
            "--bind" => opts.bind = val(),
            "--requirepass" => requirepass = Some(val()),
            other => {
                eprintln!("unknown option {other}");
                std::process::exit(2);
            }
        }
    }
    let engine = Engine::new();
    if let Some(pw) = requirepass {
        let mut s = engine.session();
        let r = engine.execute(&mut s, &[b"CONFIG", b"SET", b"requirepass", pw.as_bytes()]);
        assert!(!r.is_error(), "{r:?}");
    }
    let listener = Listener::start(engine, &opts).expect("listen");
    println!("listening on {}", listener.local_addr());
    loop {
        std::thread::park();
    }
}
