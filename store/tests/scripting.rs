//! Lua scripting and functions, checked against Redis 7.0.15's replies.

use ferrite_store::config::Config;
use ferrite_store::{Engine, Reply, Session};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn run(e: &Engine, s: &mut Session, argv: &[&str]) -> Reply {
    let v: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
    e.execute(s, &v)
}

fn eval(e: &Engine, s: &mut Session, script: &str) -> Reply {
    run(e, s, &["eval", script, "0"])
}

fn err(text: &str) -> Reply {
    Reply::Error(text.to_string())
}

fn bulk(text: &str) -> Reply {
    Reply::bulk(text.as_bytes())
}

fn sha(script: &str) -> String {
    ferrite_store::script::sha1_hex(script.as_bytes())
}

fn setup() -> (Arc<Engine>, Session) {
    let e = Engine::new();
    let s = e.session();
    (e, s)
}

#[test]
fn lua_to_reply_conversions() {
    let (e, mut s) = setup();
    assert_eq!(eval(&e, &mut s, "return 3.99"), Reply::Int(3));
    assert_eq!(eval(&e, &mut s, "return -3.99"), Reply::Int(-3));
    assert_eq!(eval(&e, &mut s, "return 'x'"), bulk("x"));
    assert_eq!(eval(&e, &mut s, "return true"), Reply::Int(1));
    assert_eq!(eval(&e, &mut s, "return false"), Reply::Nil);
    assert_eq!(eval(&e, &mut s, "return nil"), Reply::Nil);
    assert_eq!(
        eval(&e, &mut s, "return {1,2,3,'ciao',{1,2}}"),
        Reply::Array(vec![
            Reply::Int(1),
            Reply::Int(2),
            Reply::Int(3),
            bulk("ciao"),
            Reply::Array(vec![Reply::Int(1), Reply::Int(2)])
        ])
    );
    assert_eq!(
        eval(&e, &mut s, "return {1,2,nil,4}"),
        Reply::Array(vec![Reply::Int(1), Reply::Int(2)])
    );
    assert_eq!(eval(&e, &mut s, "return {err='x'}"), err("x"));
    assert_eq!(
        eval(&e, &mut s, "return {ok='fine'}"),
        Reply::status("fine")
    );
    assert_eq!(eval(&e, &mut s, "return {err=1}"), err("1"));
    assert_eq!(eval(&e, &mut s, "return tostring(0.1)"), bulk("0.1"));
    assert_eq!(
        eval(&e, &mut s, "redis.setresp(3) return {double=1.5}"),
        Reply::Double(1.5)
    );
    assert_eq!(
        eval(&e, &mut s, "redis.setresp(3) return true"),
        Reply::Bool(true)
    );
    assert_eq!(
        eval(&e, &mut s, "return {map={a=1}}"),
        Reply::Map(vec![(bulk("a"), Reply::Int(1))])
    );
}

#[test]
fn reply_to_lua_conversions() {
    let (e, mut s) = setup();
    run(&e, &mut s, &["set", "k", "v"]);
    assert_eq!(
        eval(&e, &mut s, "return type(redis.call('get','nokey'))"),
        bulk("boolean")
    );
    assert_eq!(
        eval(&e, &mut s, "return redis.call('set','k2','x')['ok']"),
        bulk("OK")
    );
    assert_eq!(
        eval(&e, &mut s, "return type(redis.call('incr','n'))"),
        bulk("number")
    );
    assert_eq!(
        eval(&e, &mut s, "return redis.pcall('incr','k')['err']"),
        bulk("ERR value is not an integer or out of range")
    );
    assert_eq!(
        eval(
            &e,
            &mut s,
            "local r = redis.call('mget','k','nokey') return {r[1], type(r[2])}"
        ),
        Reply::Array(vec![bulk("v"), bulk("boolean")])
    );
    // Numbers go to commands with %.17g, as in Redis.
    assert_eq!(
        eval(
            &e,
            &mut s,
            "redis.call('set','f',0.1) return redis.call('get','f')"
        ),
        bulk("0.10000000000000001")
    );
    assert_eq!(
        eval(
            &e,
            &mut s,
            "redis.call('set','f',12345678901234567) return redis.call('get','f')"
        ),
        bulk("12345678901234568")
    );
    assert_eq!(
        run(
            &e,
            &mut s,
            &[
                "eval",
                "return {KEYS[1], ARGV[1], #KEYS, #ARGV}",
                "1",
                "k",
                "a",
                "b"
            ]
        ),
        Reply::Array(vec![bulk("k"), bulk("a"), Reply::Int(1), Reply::Int(2)])
    );
}

#[test]
fn error_texts_match_redis() {
    let (e, mut s) = setup();
    run(&e, &mut s, &["set", "s", "a"]);
    let cases = [
        (
            "return redis.call('nosuch')",
            "ERR Unknown Redis command called from script script: {sha}, on @user_script:1.",
        ),
        (
            "return redis.call('incr','s')",
            "ERR value is not an integer or out of range script: {sha}, on @user_script:1.",
        ),
        ("return redis.pcall('incr','s')", "ERR value is not an integer or out of range"),
        (
            "x=1",
            "ERR user_script:1: Attempt to modify a readonly table script: {sha}, on @user_script:1.",
        ),
        (
            "return a",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'a' script: {sha}, on @user_script:1.",
        ),
        (
            "error('x')",
            "ERR user_script:1: x script: {sha}, on @user_script:1.",
        ),
        ("error({err='boom'})", "boom script: {sha}, on @user_script:1."),
        ("error()", "ERR nil script: {sha}, on @user_script:1."),
        ("return redis.error_reply('My Error')", "My Error"),
        ("return redis.error_reply('x')", "ERR x"),
        ("return redis.error_reply()", "ERR wrong number or type of arguments"),
        (
            "return redis.call('eval','return 1',0)",
            "ERR This Redis command is not allowed from script script: {sha}, on @user_script:1.",
        ),
        (
            "return redis.call()",
            "ERR Please specify at least one argument for this redis lib call script: {sha}, on @user_script:1.",
        ),
        (
            "return redis.call('get', {})",
            "ERR Lua redis lib command arguments must be strings or integers script: {sha}, on @user_script:1.",
        ),
        (
            "return redis.call('get','a','b')",
            "ERR Wrong number of args calling Redis command from script script: {sha}, on @user_script:1.",
        ),
        (
            "return redis.setresp(4)",
            "ERR RESP version must be 2 or 3. script: {sha}, on @user_script:1.",
        ),
        (
            "return redis.log(99,'x')",
            "ERR Invalid debug level. script: {sha}, on @user_script:1.",
        ),
        (
            "return redis.sha1hex()",
            "ERR wrong number of arguments script: {sha}, on @user_script:1.",
        ),
        (
            "return cjson.decode('x')",
            "ERR user_script:1: Expected value but found invalid token at character 1 script: {sha}, on @user_script:1.",
        ),
    ];
    for (script, want) in cases {
        let want = want.replace("{sha}", &sha(script));
        assert_eq!(eval(&e, &mut s, script), err(&want), "{script}");
    }
    assert_eq!(
        eval(&e, &mut s, "return ("),
        err("ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'")
    );
    assert_eq!(
        run(&e, &mut s, &["eval", "return 1", "-1"]),
        err("ERR Number of keys can't be negative")
    );
    assert_eq!(
        run(&e, &mut s, &["eval", "return 1", "2", "a"]),
        err("ERR Number of keys can't be greater than number of args")
    );
    assert_eq!(
        run(&e, &mut s, &["eval", "return 1", "x"]),
        err("ERR value is not an integer or out of range")
    );
}

#[test]
fn sandbox() {
    let (e, mut s) = setup();
    for (script, want) in [
        ("return type(os)", "os"),
        ("return type(io)", "io"),
        ("return type(print)", "print"),
        ("return type(loadfile)", "loadfile"),
        ("return type(dofile)", "dofile"),
        ("return type(require)", "require"),
        ("return type(debug)", "debug"),
        ("return type(setfenv)", "setfenv"),
    ] {
        let want = format!(
            "ERR user_script:1: Script attempted to access nonexistent global variable '{want}' script: {}, on @user_script:1.",
            sha(script)
        );
        assert_eq!(eval(&e, &mut s, script), err(&want));
    }
    for script in [
        "rawset(_G,'x',1) return 1",
        "setmetatable(_G, nil) return 1",
        "local t = string; rawset(t, 'x', 1) return 1",
    ] {
        let want = format!(
            "ERR Attempt to modify a readonly table script: {}, on @user_script:1.",
            sha(script)
        );
        assert_eq!(eval(&e, &mut s, script), err(&want));
    }
    let script = "string.rep = nil return 1";
    assert_eq!(
        eval(&e, &mut s, script),
        err(&format!(
            "ERR user_script:1: Attempt to modify a readonly table script: {}, on @user_script:1.",
            sha(script)
        ))
    );
    // Nothing leaks from one script to the next.
    eval(&e, &mut s, "pcall(function() leaked = 1 end) KEYS[1] = 'x'");
    let script = "return leaked";
    assert!(eval(&e, &mut s, script).is_error());
    assert_eq!(eval(&e, &mut s, "return #KEYS"), Reply::Int(0));
    // pcall gives an error reply's text; loadstring'd code is sandboxed too.
    assert_eq!(
        eval(
            &e,
            &mut s,
            "local ok, e = pcall(redis.call, 'nosuch') return e"
        ),
        bulk("ERR Unknown Redis command called from script")
    );
    assert_eq!(
        eval(
            &e,
            &mut s,
            "local ok, e = pcall(function() x = 1 end) return e"
        ),
        bulk("user_script:1: Attempt to modify a readonly table")
    );
    assert!(eval(&e, &mut s, "local f = loadstring('y = 1') f() return 1").is_error());
    assert_eq!(
        eval(&e, &mut s, "return loadstring(string.dump(function() end))"),
        Reply::Nil
    );
    assert_eq!(eval(&e, &mut s, "return ('x'):rep(3)"), bulk("xxx"));
    assert_eq!(
        eval(
            &e,
            &mut s,
            "local n = 0 for k in pairs(_G) do n = n + 1 end return n"
        ),
        Reply::Int(35)
    );
}

#[test]
fn redis_api() {
    let (e, mut s) = setup();
    assert_eq!(
        eval(&e, &mut s, "return redis.sha1hex('')"),
        bulk("da39a3ee5e6b4b0d3255bfef95601890afd80709")
    );
    assert_eq!(
        eval(&e, &mut s, "return redis.status_reply('FINE')"),
        Reply::status("FINE")
    );
    assert_eq!(
        eval(&e, &mut s, "return redis.log(redis.LOG_WARNING, 'hi')"),
        Reply::Nil
    );
    assert_eq!(
        eval(&e, &mut s, "return redis.set_repl(redis.REPL_ALL)"),
        Reply::Nil
    );
    assert_eq!(
        eval(&e, &mut s, "return redis.replicate_commands()"),
        Reply::Int(1)
    );
    assert_eq!(
        eval(
            &e,
            &mut s,
            "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING, redis.REPL_ALL, redis.REPL_NONE, redis.REDIS_VERSION}"
        ),
        Reply::Array(vec![
            Reply::Int(0),
            Reply::Int(1),
            Reply::Int(2),
            Reply::Int(3),
            Reply::Int(3),
            Reply::Int(0),
            bulk("7.0.15")
        ])
    );
}

#[test]
fn libraries() {
    let (e, mut s) = setup();
    let cases: &[(&str, Reply)] = &[
        ("return cjson.encode({1,2,{a=1}})", bulk("[1,2,{\"a\":1}]")),
        ("return cjson.encode({})", bulk("{}")),
        ("return cjson.encode('a/b\"')", bulk("\"a\\/b\\\"\"")),
        ("return cjson.encode(0.1)", bulk("0.1")),
        (
            "return cjson.encode(cjson.decode('{\"a\":[1,2,null,\"x\\\\u00e9\"]}'))",
            bulk("{\"a\":[1,2,null,\"x\u{e9}\"]}"),
        ),
        ("return cjson.decode('[1,2,3]')[3]", Reply::Int(3)),
        (
            "return cjson.decode('null') == cjson.null and 1 or 0",
            Reply::Int(1),
        ),
        (
            "local ok, e = pcall(cjson.encode, {[1]=1,[100]=2}) return e",
            bulk("Cannot serialise table: excessively sparse array"),
        ),
        (
            "local ok, e = pcall(cjson.decode, '[1,') return e",
            bulk("Expected value but found T_END at character 4"),
        ),
        (
            "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', {1,2}, -5, 300, {x='y'}))}",
            Reply::Array(vec![
                Reply::Int(1),
                bulk("a"),
                Reply::Array(vec![Reply::Int(1), Reply::Int(2)]),
                Reply::Int(-5),
                Reply::Int(300),
                Reply::Array(vec![]),
            ]),
        ),
        (
            "return cmsgpack.pack({1,2,3})",
            Reply::bulk(&[0x93, 1, 2, 3]),
        ),
        (
            "return cmsgpack.pack(1.5)",
            Reply::bulk(&[0xca, 0x3f, 0xc0, 0, 0]),
        ),
        (
            "return cmsgpack.pack(-1, 200, 'ab')",
            Reply::bulk(&[0xff, 0xcc, 200, 0xa2, b'a', b'b']),
        ),
        (
            "return cmsgpack.unpack(cmsgpack.pack({x='y'})).x",
            bulk("y"),
        ),
        ("return bit.tohex(bit.bnot(0))", bulk("ffffffff")),
        ("return bit.band(0xff, 0x0f)", Reply::Int(15)),
        ("return bit.bor(1, 2, 4)", Reply::Int(7)),
        ("return bit.bxor(3, 1)", Reply::Int(2)),
        ("return bit.lshift(1, 31)", Reply::Int(-2147483648)),
        ("return bit.rshift(-1, 28)", Reply::Int(15)),
        ("return bit.arshift(-256, 4)", Reply::Int(-16)),
        ("return bit.tobit(0xffffffff + 1)", Reply::Int(0)),
        ("return bit.tohex(0x1234, -4)", bulk("1234")),
        (
            "return bit.rol(0x12345678, 8) == 0x34567812 and 1 or 0",
            Reply::Int(1),
        ),
        ("return bit.tohex(bit.bswap(0x12345678))", bulk("78563412")),
        ("return struct.pack('>i2', 258)", Reply::bulk(&[1, 2])),
        ("return struct.pack('<HB', 1, 2)", Reply::bulk(&[1, 0, 2])),
        (
            "return {struct.unpack('>i2', struct.pack('>i2', -2))}",
            Reply::Array(vec![Reply::Int(-2), Reply::Int(3)]),
        ),
        (
            "return {struct.unpack('s', struct.pack('s', 'hi'))}",
            Reply::Array(vec![bulk("hi"), Reply::Int(4)]),
        ),
        (
            "return {struct.unpack('Bc0', struct.pack('Bc0', 3, 'abc'))}",
            Reply::Array(vec![bulk("abc"), Reply::Int(5)]),
        ),
        ("return struct.size('!4bi')", Reply::Int(8)),
        ("return struct.size('>hd')", Reply::Int(10)),
        (
            "return {struct.unpack('<d', struct.pack('<d', 2.5))}",
            Reply::Array(vec![Reply::Int(2), Reply::Int(9)]),
        ),
    ];
    for (script, want) in cases {
        assert_eq!(&eval(&e, &mut s, script), want, "{script}");
    }
}

#[test]
fn evalsha_and_script_subcommands() {
    let (e, mut s) = setup();
    let body = "return 1";
    let id = sha(body);
    assert_eq!(
        run(&e, &mut s, &["evalsha", &id, "0"]),
        err("NOSCRIPT No matching script. Please use EVAL.")
    );
    assert_eq!(run(&e, &mut s, &["script", "load", body]), bulk(&id));
    assert_eq!(
        run(&e, &mut s, &["evalsha", &id.to_uppercase(), "0"]),
        Reply::Int(1)
    );
    assert_eq!(
        run(&e, &mut s, &["script", "exists", &id, "nope"]),
        Reply::Array(vec![Reply::Int(1), Reply::Int(0)])
    );
    assert_eq!(run(&e, &mut s, &["script", "flush"]), Reply::ok());
    assert_eq!(
        run(&e, &mut s, &["script", "exists", &id]),
        Reply::Array(vec![Reply::Int(0)])
    );
    // EVAL caches the script too.
    eval(&e, &mut s, body);
    assert_eq!(run(&e, &mut s, &["evalsha", &id, "0"]), Reply::Int(1));
    assert_eq!(
        run(&e, &mut s, &["script", "flush", "bad"]),
        err("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    );
    assert_eq!(
        run(&e, &mut s, &["script", "load"]),
        err("ERR wrong number of arguments for 'script|load' command")
    );
    assert_eq!(
        run(&e, &mut s, &["script", "foo"]),
        err("ERR unknown subcommand 'foo'. Try SCRIPT HELP.")
    );
    assert_eq!(
        run(&e, &mut s, &["script", "kill"]),
        err("NOTBUSY No scripts in execution right now.")
    );
    assert!(matches!(run(&e, &mut s, &["script", "help"]), Reply::Array(v) if v.len() == 17));
}

#[test]
fn read_only_scripts() {
    let (e, mut s) = setup();
    let script = "return redis.call('set','k','v')";
    assert_eq!(
        run(&e, &mut s, &["eval_ro", script, "0"]),
        err(&format!(
            "ERR Write commands are not allowed from read-only scripts. script: {}, on @user_script:1.",
            sha(script)
        ))
    );
    run(&e, &mut s, &["set", "k", "v"]);
    assert_eq!(
        run(
            &e,
            &mut s,
            &["eval_ro", "return redis.call('get','k')", "0"]
        ),
        bulk("v")
    );
    let sh = "#!lua flags=no-writes\nreturn redis.call('set','a','b')";
    assert_eq!(
        eval(&e, &mut s, sh),
        err(&format!(
            "ERR Write commands are not allowed from read-only scripts. script: {}, on @user_script:2.",
            sha(sh)
        ))
    );
    let w = "#!lua\nreturn redis.call('set','a','b')";
    assert_eq!(eval(&e, &mut s, w), Reply::ok());
    assert_eq!(
        run(&e, &mut s, &["eval_ro", w, "0"]),
        err("ERR Can not execute a script with write flag using *_ro command.")
    );
    assert_eq!(
        eval(&e, &mut s, "#!lua flags=bad\nreturn 1"),
        err("ERR Unexpected flag in script shebang: bad")
    );
    assert_eq!(
        eval(&e, &mut s, "#!lua name=x\nreturn 1"),
        err("ERR Unknown lua shebang option: name=x")
    );
    assert_eq!(
        eval(&e, &mut s, "#!js\nreturn 1"),
        err("ERR Unexpected engine in script shebang: #!js")
    );
    // SELECT inside a script does not leak to the caller.
    eval(&e, &mut s, "redis.call('select', 5)");
    assert_eq!(s.db, 0);
}

const LIB: &str = "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return args[1] end)\nredis.register_function{function_name='ro', callback=function(keys, args) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='desc'}";

#[test]
fn functions_load_call_list() {
    let (e, mut s) = setup();
    assert_eq!(run(&e, &mut s, &["function", "load", LIB]), bulk("mylib"));
    assert_eq!(
        run(&e, &mut s, &["function", "load", LIB]),
        err("ERR Library 'mylib' already exists")
    );
    assert_eq!(
        run(&e, &mut s, &["function", "load", "replace", LIB]),
        bulk("mylib")
    );
    assert_eq!(
        run(&e, &mut s, &["fcall", "myfunc", "0", "hello"]),
        bulk("hello")
    );
    run(&e, &mut s, &["set", "k", "v"]);
    assert_eq!(run(&e, &mut s, &["fcall_ro", "ro", "1", "k"]), bulk("v"));
    assert_eq!(
        run(&e, &mut s, &["fcall_ro", "myfunc", "0", "x"]),
        err("ERR Can not execute a script with write flag using *_ro command.")
    );
    assert_eq!(
        run(&e, &mut s, &["fcall", "nosuch", "0"]),
        err("ERR Function not found")
    );
    assert_eq!(
        run(&e, &mut s, &["fcall", "myfunc", "-1"]),
        err("ERR Number of keys can't be negative")
    );
    let list = run(&e, &mut s, &["function", "list", "libraryname", "my*"]);
    let Reply::Array(libs) = list else {
        panic!("{list:?}")
    };
    assert_eq!(libs.len(), 1);
    let Reply::Map(fields) = &libs[0] else {
        panic!()
    };
    assert_eq!(fields[0], (bulk("library_name"), bulk("mylib")));
    assert_eq!(fields[1], (bulk("engine"), bulk("LUA")));
    let Reply::Array(fns) = &fields[2].1 else {
        panic!()
    };
    assert_eq!(
        fns[1],
        Reply::Map(vec![
            (bulk("name"), bulk("ro")),
            (bulk("description"), bulk("desc")),
            (bulk("flags"), Reply::Set(vec![bulk("no-writes")])),
        ])
    );
    assert_eq!(
        run(&e, &mut s, &["function", "list", "libraryname", "zz*"]),
        Reply::Array(vec![])
    );
    let Reply::Array(with) = run(&e, &mut s, &["function", "list", "withcode"]) else {
        panic!()
    };
    let Reply::Map(f) = &with[0] else { panic!() };
    assert_eq!(f[3], (bulk("library_code"), bulk(LIB)));
    assert_eq!(
        run(&e, &mut s, &["function", "list", "foo"]),
        err("ERR Unknown argument foo")
    );
    assert_eq!(
        run(&e, &mut s, &["function", "stats"]),
        Reply::Map(vec![
            (bulk("running_script"), Reply::Nil),
            (
                bulk("engines"),
                Reply::Map(vec![(
                    bulk("LUA"),
                    Reply::Map(vec![
                        (bulk("libraries_count"), Reply::Int(1)),
                        (bulk("functions_count"), Reply::Int(2)),
                    ])
                )])
            ),
        ])
    );
    // A runtime error names the function and the line.
    run(&e, &mut s, &["function", "load", "#!lua name=w\nredis.register_function{function_name='w', callback=function(k,a) return redis.call('set',k[1],a[1]) end, flags={'no-writes'}}"]);
    assert_eq!(
        run(&e, &mut s, &["fcall", "w", "1", "k", "v"]),
        err("ERR Write commands are not allowed from read-only scripts. script: w, on @user_function:2.")
    );
    assert_eq!(run(&e, &mut s, &["function", "delete", "w"]), Reply::ok());
    assert_eq!(
        run(&e, &mut s, &["function", "delete", "w"]),
        err("ERR Library not found")
    );
}

#[test]
fn function_load_errors() {
    let (e, mut s) = setup();
    run(&e, &mut s, &["function", "load", LIB]);
    let cases = [
        ("#!lua name=mylib2\nredis.register_function('myfunc', function(keys, args) return 1 end)", "ERR Function myfunc already exists"),
        ("#!lua\nredis.register_function('x', function() end)", "ERR Library name was not given"),
        ("redis.register_function('x', function() end)", "ERR Missing library metadata"),
        ("#!lua name=e1", "ERR Invalid library metadata"),
        ("#!lua name=e2 foo=bar\nx", "ERR Invalid metadata value given: foo=bar"),
        ("#!lua name=e1 name=e2\nx", "ERR Invalid metadata value, name argument was given multiple times"),
        ("#!js name=e10\nx", "ERR Engine 'js' not found"),
        ("#!lua name=1-a\nx", "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
        ("#!lua name=e1\nlocal x = 1", "ERR No functions registered"),
        ("#!lua name=e3\nredis.register_function('x', function() end, 'a')", "ERR Error registering functions: ERR wrong number of arguments to redis.register_function"),
        ("#!lua name=e4\nredis.register_function('a-b', function() end)", "ERR Error registering functions: ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
        ("#!lua name=e5\nredis.register_function{function_name='y', callback=function() end, flags={'bad'}}", "ERR Error registering functions: ERR unknown flag given"),
        ("#!lua name=e6\nredis.register_function{function_name='y', callback=function() end, foo=1}", "ERR Error registering functions: ERR unknown argument given to redis.register_function"),
        ("#!lua name=e7\nredis.call('ping')", "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'"),
        ("#!lua name=e8\nx = 1", "ERR Error registering functions: ERR user_function:2: Attempt to modify a readonly table"),
        ("#!lua name=e9\nreturn (", "ERR Error compiling function: user_function:2: unexpected symbol near '<eof>'"),
        ("#!lua name=e11\nredis.register_function('x', function() end)\nredis.register_function('x', function() end)", "ERR Error registering functions: ERR Function already exists in the library"),
        ("#!lua name=e12\nredis.register_function('ab', 'x')", "ERR Error registering functions: ERR second argument to redis.register_function must be a function"),
        ("#!lua name=e13\nredis.register_function{callback=function() end}", "ERR Error registering functions: ERR redis.register_function must get a function name argument"),
        ("#!lua name=e14\nlocal x = pairs", "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'pairs'"),
    ];
    for (code, want) in cases {
        assert_eq!(
            run(&e, &mut s, &["function", "load", code]),
            err(want),
            "{code}"
        );
    }
    // Nothing half-loaded stayed behind.
    let Reply::Array(libs) = run(&e, &mut s, &["function", "list"]) else {
        panic!()
    };
    assert_eq!(libs.len(), 1);
    assert_eq!(
        run(&e, &mut s, &["function", "load", "replaces", LIB]),
        err("ERR Unknown option given: replaces")
    );
    // The runtime globals are back after a load.
    run(&e, &mut s, &["function", "load", "#!lua name=g\nredis.register_function('g', function() local t = {} for k in pairs(redis) do t[#t+1] = k end return #t end)"]);
    assert!(matches!(run(&e, &mut s, &["fcall", "g", "0"]), Reply::Int(n) if n > 10));
}

#[test]
fn function_dump_restore_flush() {
    let (e, mut s) = setup();
    run(
        &e,
        &mut s,
        &[
            "function",
            "load",
            "#!lua name=a\nredis.register_function('fa', function() return 1 end)",
        ],
    );
    let Reply::Bulk(payload) = run(&e, &mut s, &["function", "dump"]) else {
        panic!()
    };
    // Redis 7.0's own payload for this library, as redis-server 7.0.15 dumps it.
    let mut redis_payload = vec![0xf5, 0x40, 0x43];
    redis_payload
        .extend_from_slice(b"#!lua name=a\nredis.register_function('fa', function() return 1 end)");
    redis_payload.extend_from_slice(&[0x0a, 0x00, 0x04, 0x0c, 0xd0, 0x2f, 0xbd, 0xd6, 0x7e, 0x5d]);
    assert_eq!(&payload[..], &redis_payload[..]);
    let p = payload.to_vec();
    let restore = |e: &Engine, s: &mut Session, policy: Option<&str>| {
        let mut argv: Vec<&[u8]> = vec![b"function", b"restore", &p];
        if let Some(pol) = policy {
            argv.push(pol.as_bytes());
        }
        e.execute(s, &argv)
    };
    assert_eq!(
        restore(&e, &mut s, None),
        err("ERR Library 'a' already exists")
    );
    assert_eq!(restore(&e, &mut s, Some("REPLACE")), Reply::ok());
    assert_eq!(
        restore(&e, &mut s, Some("BAD")),
        err("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
    );
    assert_eq!(run(&e, &mut s, &["function", "flush"]), Reply::ok());
    assert_eq!(
        run(&e, &mut s, &["fcall", "fa", "0"]),
        err("ERR Function not found")
    );
    assert_eq!(restore(&e, &mut s, None), Reply::ok());
    assert_eq!(run(&e, &mut s, &["fcall", "fa", "0"]), Reply::Int(1));
    assert_eq!(
        run(&e, &mut s, &["function", "restore", "garbage"]),
        err("ERR DUMP payload version or checksum are wrong")
    );
    assert_eq!(
        run(&e, &mut s, &["function", "flush", "foo"]),
        err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    );
}

fn busy_engine() -> Arc<Engine> {
    let mut cfg = Config::default();
    cfg.set("busy-reply-threshold", "50").unwrap();
    Engine::with_config(cfg)
}

/// Waits (up to 10 s) until `e` answers BUSY.
fn wait_busy(e: &Engine, s: &mut Session) -> Reply {
    let t0 = Instant::now();
    loop {
        let r = run(e, s, &["get", "x"]);
        if r.is_error() || t0.elapsed() > Duration::from_secs(10) {
            return r;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn busy_script_is_killed_by_script_kill() {
    let e = busy_engine();
    let e2 = e.clone();
    let script = "local i = 0 while true do i = i + 1 end";
    let runner = std::thread::spawn(move || {
        let mut s = e2.session();
        eval(&e2, &mut s, script)
    });
    let mut s = e.session();
    assert_eq!(
        wait_busy(&e, &mut s),
        err("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
    );
    assert_eq!(
        run(&e, &mut s, &["function", "kill"]),
        err("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
    );
    assert!(
        matches!(run(&e, &mut s, &["function", "stats"]), Reply::Map(m) if m[0].1 != Reply::Nil)
    );
    assert_eq!(run(&e, &mut s, &["script", "kill"]), Reply::ok());
    assert_eq!(
        runner.join().unwrap(),
        err(&format!(
            "ERR Script killed by user with SCRIPT KILL... script: {}, on @user_script:1.",
            sha(script)
        ))
    );
    assert_eq!(run(&e, &mut s, &["get", "x"]), Reply::Nil);
    assert_eq!(
        run(&e, &mut s, &["script", "kill"]),
        err("NOTBUSY No scripts in execution right now.")
    );
}

#[test]
fn busy_script_that_wrote_is_unkillable_and_pcall_cannot_hide_a_kill() {
    let e = busy_engine();
    let e2 = e.clone();
    let runner = std::thread::spawn(move || {
        let mut s = e2.session();
        eval(&e2, &mut s, "redis.call('set','w','1') while true do end")
    });
    let mut s = e.session();
    assert!(wait_busy(&e, &mut s).is_error());
    assert_eq!(
        run(&e, &mut s, &["script", "kill"]),
        err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.")
    );
    // SHUTDOWN NOSAVE stops it anyway.
    run(&e, &mut s, &["shutdown", "nosave"]);
    assert!(runner.join().unwrap().is_error());

    let e2 = e.clone();
    let runner = std::thread::spawn(move || {
        let mut s = e2.session();
        eval(
            &e2,
            &mut s,
            "while true do pcall(function() while true do end end) end",
        )
    });
    assert!(wait_busy(&e, &mut s).is_error());
    assert_eq!(run(&e, &mut s, &["script", "kill"]), Reply::ok());
    assert!(runner.join().unwrap().is_error());
}

#[test]
fn busy_function_is_killed_by_function_kill() {
    let e = busy_engine();
    let mut s = e.session();
    run(
        &e,
        &mut s,
        &[
            "function",
            "load",
            "#!lua name=spin\nredis.register_function('spin', function() while true do end end)",
        ],
    );
    let e2 = e.clone();
    let runner = std::thread::spawn(move || {
        let mut s = e2.session();
        run(&e2, &mut s, &["fcall", "spin", "0"])
    });
    assert_eq!(
        wait_busy(&e, &mut s),
        err("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.")
    );
    assert_eq!(
        run(&e, &mut s, &["script", "kill"]),
        err("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.")
    );
    assert_eq!(run(&e, &mut s, &["function", "kill"]), Reply::ok());
    assert_eq!(
        runner.join().unwrap(),
        err("ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.")
    );
}

#[test]
fn function_load_times_out() {
    let (e, mut s) = setup();
    assert_eq!(
        run(
            &e,
            &mut s,
            &[
                "function",
                "load",
                "#!lua name=slow\nlocal i = 0 while true do i = i + 1 end"
            ]
        ),
        err("ERR Error registering functions: ERR FUNCTION LOAD timeout")
    );
}

#[test]
fn script_effects_are_logged_not_the_script() {
    use ferrite_store::persist::{AppendFsync, PersistOptions};
    let dir = std::env::temp_dir().join(format!(
        "ferrite-script-effects-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let opts = || PersistOptions {
        appendfsync: AppendFsync::Always,
        ..Default::default()
    };
    {
        let e = Engine::open(&dir, opts()).expect("open");
        let mut s = e.session();
        let script = "redis.call('set', KEYS[1], ARGV[1]) redis.call('incr', 'n') return redis.call('get', KEYS[1])";
        assert_eq!(run(&e, &mut s, &["eval", script, "1", "k", "v"]), bulk("v"));
        e.close();
    }
    let mut log = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|x| x == "aof") {
            log.extend(std::fs::read(&p).unwrap());
        }
    }
    let text = String::from_utf8_lossy(&log).to_lowercase();
    assert!(!text.contains("eval"), "{text}");
    let multi = text.find("multi").expect("MULTI");
    let set = text.find("set").expect("SET");
    let incr = text.find("incr").expect("INCR");
    let exec = text.find("exec").expect("EXEC");
    assert!(multi < set && set < incr && incr < exec, "{text}");
    // Replay gives the same data, with no Lua involved.
    let e = Engine::open(&dir, opts()).expect("reopen");
    let mut s = e.session();
    assert_eq!(run(&e, &mut s, &["get", "k"]), bulk("v"));
    assert_eq!(run(&e, &mut s, &["get", "n"]), bulk("1"));
    e.close();
    let _ = std::fs::remove_dir_all(&dir);
}
