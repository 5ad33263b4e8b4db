//! The `mimecast-graph` binary: parse, set up logging, run, exit with a named code.

use std::process::ExitCode;

use clap::Parser;
use mimecast_graph::cli::Command;

/// mimalloc; the commands that build a graph return freed memory to the system at once
/// (see [`returns_memory_at_once`]). Several threads build
/// the graph (each campaign's rows are fetched and converted in a task of its own, on
/// both cores), and glibc's malloc held such a graph 20% larger at its peak, one arena
/// per thread (a 100,000-user collect: 1,181 MiB in 18.9 s of steps; one arena for all
/// threads: 985 MiB but 26.3 s, the threads waiting on its lock). mimalloc: 973 MiB in
/// 18.7 s.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` (mimalloc.h, the 16th option): milliseconds before freed
/// memory is returned to the system (1,000 by default in mimalloc 3); 0 returns it at
/// once.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Whether `command` builds a tenant's graph, whose peak memory is held low by
/// returning freed memory at once. The other commands keep mimalloc's delay: a
/// 100,000-row answer of `queries run` spent a third of its time (0.2 s) in the
/// kernel, zeroing pages handed back and asked for again between its rows.
fn returns_memory_at_once(command: &Command) -> bool {
    matches!(command, Command::Collect(_) | Command::Sync(_) | Command::Run(_))
}

fn main() -> ExitCode {
    let cli = mimecast_graph::cli::Cli::parse();
    if returns_memory_at_once(&cli.command) {
        // SAFETY: sets one allocator parameter; mimalloc reads it when it next purges.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
    mimecast_graph::cli::main(cli).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_main_sets() {
        // SAFETY: reads and sets one allocator parameter.
        let (default, set) = unsafe {
            let default = libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY);
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
            (default, libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY))
        };
        // mimalloc 3's options.c: `{ 1000, ..., MI_OPTION_LEGACY(purge_delay, reset_delay) }`.
        assert_eq!((default, set), (1000, 0));
    }
}
