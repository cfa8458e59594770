use ferrite_store::{Engine, Reply};

fn run(e: &Engine, s: &mut ferrite_store::Session, argv: &[&str]) -> Reply {
    let v: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
    e.execute(s, &v)
}

#[test]
fn probe() {
    let e = Engine::new();
    let mut s = e.session();
    run(&e, &mut s, &["set", "s", "a"]);
    for script in [
        "return redis.call('nosuch')",
        "return redis.call('incr','s')",
        "return redis.pcall('incr','s')",
        "x=1",
        "return a",
        "return (",
        "error('x')",
        "error({err='boom'})",
        "error()",
        "error({1})",
        "return {1,2,3,'ciao',{1,2}}",
        "return {1,2,3,nil,4}",
        "return 3.99",
        "return true",
        "return false",
        "return {err='x'}",
        "return {ok='y'}",
        "return redis.error_reply('My Error')",
        "return redis.error_reply('x')",
        "return redis.call('get','nokey')",
        "local ok, e = pcall(redis.call, 'nosuch') return e",
        "local ok, e = pcall(function() x = 1 end) return e",
        "rawset(_G,'x',1) return 1",
        "setmetatable(_G, nil) return 1",
        "string.rep = nil return 1",
        "local t={} for k,v in pairs(_G) do t[#t+1]=k end table.sort(t) return t",
        "return cjson.decode('x')",
        "local ok,e = pcall(cjson.decode,'x') return e",
        "return cjson.encode({1,2,{a=1}})",
        "return cjson.encode(cjson.decode('{\"a\":[1,2,null,\"x\"]}'))",
        "return redis.sha1hex('')",
        "return redis.setresp(4)",
        "return redis.log(99,'x')",
        "return struct.unpack('>i2', struct.pack('>i2', -2))",
        "return bit.tohex(bit.bnot(0))",
        "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', {1,2}, -5, 1.5))}",
        "local f = loadstring('y = 1') f() return 1",
        "return tostring(getmetatable('').__index == string)",
        "return ('x'):rep(3)",
        "return type(getmetatable(_G))",
        "return redis.call('eval','return 1',0)",
        "return redis.call()",
        "return redis.call('get', {})",
        "return redis.call('get','a','b')",
        "return {redis.LOG_WARNING, redis.REDIS_VERSION}",
        "return _VERSION",
    ] {
        let r = run(&e, &mut s, &["eval", script, "0"]);
        println!("{script}\n   => {r:?}");
    }
    println!("{:?}", run(&e, &mut s, &["eval_ro", "return redis.call('set','k','v')", "0"]));
    println!("{:?}", run(&e, &mut s, &["evalsha", "abc", "0"]));
    println!("{:?}", run(&e, &mut s, &["eval", "#!lua flags=no-writes\nreturn redis.call('set','a','b')", "0"]));
    println!("{:?}", run(&e, &mut s, &["eval", "#!lua flags=bad\nreturn 1", "0"]));
    println!("{:?}", run(&e, &mut s, &["eval", "return {KEYS[1], ARGV[1], #KEYS, #ARGV}", "1", "k", "a", "b"]));
    println!("{:?}", run(&e, &mut s, &["function", "load", "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return args[1] end)\nredis.register_function{function_name='ro', callback=function(keys, args) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='desc'}"]));
    println!("{:?}", run(&e, &mut s, &["fcall", "myfunc", "0", "hello"]));
    println!("{:?}", run(&e, &mut s, &["fcall_ro", "myfunc", "0", "hello"]));
    println!("{:?}", run(&e, &mut s, &["fcall_ro", "ro", "1", "s"]));
    println!("{:?}", run(&e, &mut s, &["function", "list", "withcode"]));
    println!("{:?}", run(&e, &mut s, &["function", "load", "#!lua name=e7\nredis.call('ping')"]));
    println!("{:?}", run(&e, &mut s, &["function", "load", "#!lua name=e8\nx = 1"]));
    println!("{:?}", run(&e, &mut s, &["function", "load", "#!lua name=e9\nreturn ("]));
}
