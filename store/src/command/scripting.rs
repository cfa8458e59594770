//! Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT,
//! FCALL, FCALL_RO and FUNCTION (Redis's `eval.c` and `functions.c`).
//! The machinery lives in `crate::script`.

use super::{CommandSpec, Flags};
use crate::cmd;
use crate::engine::Ctx;
use crate::reply::Reply;
use crate::script::{self, functions};
use crate::util::eq_ic;

/// Script runners: refused inside scripts and may run long (dirty
/// scheduler). They are never logged themselves: `persist` lists them as
/// containers, and the commands a script runs are logged as its effects.
const RUN: Flags = Flags::NOSCRIPT.or(Flags::SLOW);
const ADMIN: Flags = Flags::NOSCRIPT.or(Flags::SLOW);

/// The scripting family's table.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("eval", -3, RUN, 0, 0, 0, eval),
    cmd!("evalsha", -3, RUN, 0, 0, 0, evalsha),
    cmd!("eval_ro", -3, RUN, 0, 0, 0, eval_ro),
    cmd!("evalsha_ro", -3, RUN, 0, 0, 0, evalsha_ro),
    cmd!("fcall", -3, RUN, 0, 0, 0, fcall),
    cmd!("fcall_ro", -3, RUN, 0, 0, 0, fcall_ro),
    cmd!("script", -2, ADMIN, 0, 0, 0, script),
    cmd!("function", -2, ADMIN, 0, 0, 0, function),
];

fn eval(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    script::eval_command(ctx, argv, false, false)
}

fn evalsha(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    script::eval_command(ctx, argv, true, false)
}

fn eval_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    script::eval_command(ctx, argv, false, true)
}

fn evalsha_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    script::eval_command(ctx, argv, true, true)
}

fn fcall(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    functions::fcall(ctx, argv, false)
}

fn fcall_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    functions::fcall(ctx, argv, true)
}

/// Redis's arity error for a container subcommand (`script|load`).
fn sub_arity(cmd: &str, sub: &str) -> Reply {
    Reply::err(format!(
        "ERR wrong number of arguments for '{cmd}|{sub}' command"
    ))
}

fn unknown_sub(sub: &[u8], cmd: &str) -> Reply {
    let sub = String::from_utf8_lossy(&sub[..sub.len().min(128)]).into_owned();
    Reply::err(format!("ERR unknown subcommand '{sub}'. Try {cmd} HELP."))
}

const SCRIPT_HELP: &[&str] = &[
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
];

/// SCRIPT LOAD | EXISTS | FLUSH | KILL | DEBUG | HELP.
fn script(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let sub = argv[1];
    let n = argv.len();
    if eq_ic(sub, "load") {
        if n != 3 {
            return sub_arity("script", "load");
        }
        return match script::load_script(ctx, argv[2]) {
            Ok(sha) => Reply::text(sha),
            Err(r) => r,
        };
    }
    if eq_ic(sub, "exists") {
        if n < 3 {
            return sub_arity("script", "exists");
        }
        let scripts = &ctx.st.scripts;
        return Reply::Array(
            argv[2..]
                .iter()
                .map(|s| {
                    let sha = String::from_utf8_lossy(s).to_ascii_lowercase();
                    Reply::Int(scripts.exists(&sha) as i64)
                })
                .collect(),
        );
    }
    if eq_ic(sub, "flush") {
        let ok = n == 2 || (n == 3 && (eq_ic(argv[2], "sync") || eq_ic(argv[2], "async")));
        if !ok {
            return Reply::err("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        }
        ctx.st.scripts.flush();
        return Reply::ok();
    }
    if eq_ic(sub, "kill") {
        if n != 2 {
            return sub_arity("script", "kill");
        }
        // Under the lock no script can be running (a running script holds
        // it): this answers NOTBUSY. The busy case is served before the
        // lock by `script::intercept_busy`.
        return ctx.engine.script_busy.kill(true);
    }
    if eq_ic(sub, "debug") {
        if n != 3 {
            return sub_arity("script", "debug");
        }
        if eq_ic(argv[2], "no") {
            return Reply::ok();
        }
        if eq_ic(argv[2], "yes") || eq_ic(argv[2], "sync") {
            return Reply::err("ERR The Lua debugger is not supported by this server");
        }
        return Reply::err("ERR Use SCRIPT DEBUG YES/SYNC/NO");
    }
    if eq_ic(sub, "help") {
        if n != 2 {
            return sub_arity("script", "help");
        }
        return Reply::status_lines(SCRIPT_HELP);
    }
    unknown_sub(sub, "SCRIPT")
}

const FUNCTION_HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
];

/// FUNCTION LOAD | LIST | DELETE | FLUSH | DUMP | RESTORE | STATS | KILL | HELP.
fn function(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let sub = argv[1];
    let n = argv.len();
    if eq_ic(sub, "load") {
        if n < 3 {
            return sub_arity("function", "load");
        }
        let mut replace = false;
        for opt in &argv[2..n - 1] {
            if eq_ic(opt, "replace") {
                replace = true;
            } else {
                return Reply::err(format!(
                    "ERR Unknown option given: {}",
                    String::from_utf8_lossy(opt)
                ));
            }
        }
        return functions::load(ctx, argv[n - 1], replace);
    }
    if eq_ic(sub, "list") {
        let mut with_code = false;
        let mut pattern: Option<&[u8]> = None;
        let mut i = 2;
        while i < n {
            if eq_ic(argv[i], "withcode") {
                with_code = true;
            } else if eq_ic(argv[i], "libraryname") {
                if i + 1 >= n {
                    return Reply::err("ERR library name argument was not given");
                }
                if pattern.is_some() {
                    return Reply::err("ERR library name can be given only once");
                }
                i += 1;
                pattern = Some(argv[i]);
            } else {
                return Reply::err(format!(
                    "ERR Unknown argument {}",
                    String::from_utf8_lossy(argv[i])
                ));
            }
            i += 1;
        }
        return functions::list(ctx, pattern, with_code);
    }
    if eq_ic(sub, "delete") {
        if n != 3 {
            return sub_arity("function", "delete");
        }
        return functions::delete(ctx, argv[2]);
    }
    if eq_ic(sub, "flush") {
        let ok = n == 2 || (n == 3 && (eq_ic(argv[2], "sync") || eq_ic(argv[2], "async")));
        if !ok {
            return Reply::err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        }
        return functions::flush(ctx);
    }
    if eq_ic(sub, "dump") {
        if n != 2 {
            return sub_arity("function", "dump");
        }
        return functions::dump(ctx);
    }
    if eq_ic(sub, "restore") {
        if n < 3 {
            return sub_arity("function", "restore");
        }
        if n > 4 {
            return Reply::err(
                "ERR unknown subcommand or wrong number of arguments for 'restore'. Try FUNCTION HELP.",
            );
        }
        return functions::restore(ctx, argv[2], argv.get(3).copied());
    }
    if eq_ic(sub, "stats") {
        if n != 2 {
            return sub_arity("function", "stats");
        }
        return ctx.engine.script_busy.stats();
    }
    if eq_ic(sub, "kill") {
        if n != 2 {
            return sub_arity("function", "kill");
        }
        return ctx.engine.script_busy.kill(false);
    }
    if eq_ic(sub, "help") {
        if n != 2 {
            return sub_arity("function", "help");
        }
        return Reply::status_lines(FUNCTION_HELP);
    }
    unknown_sub(sub, "FUNCTION")
}
